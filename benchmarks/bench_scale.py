"""Scaling of the end-to-end build: wall time and peak memory as the input grows 1x, 4x, 16x.

    python benchmarks/bench_scale.py [--base-bundles 6] [--factors 1,4,16] [--runners direct,dask]
                                     [--workers 2] [--json results.json] [-- extra medcorpus/Beam args]

Inputs are made from the Synthea FHIR bundles in ``../shared/data/fhir/synthea-california``:
the first N bundles (sorted by name; default 6, see --base-bundles) are the base; factor k writes k copies of each base bundle
into ``/tmp/bench_scale_in/x{k}/``. Every copy is re-keyed so that it is a distinct patient: each
resource ``id`` and ``fullUrl`` id (and the bundle id) gets a deterministic per-copy replacement
(UUIDs -> uuid5(old, copy), other ids -> ``old-c{copy}``), every string of the bundle that equals
or contains an old id is rewritten (``urn:uuid:...`` and ``Type/id`` references, identifiers that
repeat an id, ...), and the Patient's identifier values that were not rewritten that way get a
``-c{copy}`` suffix, so patient linking treats the copies as different patients. Copy c is the
same in every factor, so x1 is contained in x4, which is contained in x16. Note texts are not
changed: copies of a note are exact duplicates and the dedup stage drops them (documents after
dedup do not scale with k; patients, resources and task examples do).

Each (factor, runner, workers) runs ``medcorpus build --source fhir:DIR --output
/tmp/bench_scale_out/x{k} --overwrite`` as a subprocess with a fixed bench secret: on the
DirectRunner with ``--direct_num_workers=W`` (multi-processing), or with ``--runner dask`` on a
fresh loopback Dask cluster started for that build (``dask scheduler`` and ``dask worker
--nworkers W --nthreads 1`` as separate processes, the secret in their environment; their start
is not timed). While it runs, the RSS of every process (the build, its SDK workers, the Dask
scheduler and workers) is sampled every 0.2 s with psutil (or /proc when psutil is missing): the
peak per process (reported: the driver, the largest worker process, the scheduler) and the peak
of the sum over all processes. RSS of separate processes is summed as is (shared library pages
are counted once per process). CPU seconds are user + system of the build and the SDK workers it
waited for, plus the Dask processes' CPU during the build.

Counts come from the output manifest.json: patients (``stages.patients.terminology.out``), FHIR
resources read (``stages.units.read.in``), notes/documents extracted (``stages.documents.deid.out``)
and rows per split. Input MB is the summed size of the (gzip-compressed) input files on disk.
CPU seconds over wall seconds show how many cores the run kept busy. Build logs go to ``/tmp/bench_scale_out/x{k}-w{W}.log``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fhir" / "synthea-california"
IN_ROOT = Path("/tmp/bench_scale_in")
OUT_ROOT = Path("/tmp/bench_scale_out")
BENCH_SECRET = "bench-scale-secret-0123456789abcdef"  # fixed: same pseudonyms on every run
COPY_NS = uuid.UUID("6f1c1f3e-5b7a-4d2e-9c3a-be7c5ca1e000")  # namespace of the per-copy uuid5 ids
MB = 1024 * 1024


# -- replicated inputs ------------------------------------------------------------------------

def _new_id(old: str, copy: int) -> str:
    try:
        uuid.UUID(old)
    except ValueError:
        return f"{old}-c{copy}"
    return str(uuid.uuid5(COPY_NS, f"{old}/copy{copy}"))


def _bundle_ids(bundle: dict) -> set[str]:
    ids = set()
    if isinstance(bundle.get("id"), str) and bundle["id"]:
        ids.add(bundle["id"])
    for entry in bundle.get("entry") or []:
        res = entry.get("resource") or {}
        if isinstance(res.get("id"), str) and res["id"]:
            ids.add(res["id"])
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url:
            tail = full_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            if tail:
                ids.add(tail)
    return ids


def rekey_bundle(bundle: dict, copy: int) -> dict:
    """A deep copy of ``bundle`` in which every id, fullUrl, reference and Patient identifier is per-copy."""
    ids = _bundle_ids(bundle)
    mapping = {old: _new_id(old, copy) for old in ids}
    # long ids (UUIDs, Synthea's) are replaced wherever they occur inside a string; short ids only
    # where a string is the id, a urn, or ends in "/id" (a Type/id reference), to avoid false hits
    long_ids = sorted((i for i in ids if len(i) >= 8), key=len, reverse=True)
    short_ids = {i for i in ids if len(i) < 8}
    pattern = re.compile("|".join(re.escape(i) for i in long_ids)) if long_ids else None

    def fix(s: str) -> str:
        if pattern is not None:
            s = pattern.sub(lambda m: mapping[m.group(0)], s)
        if short_ids:
            if s in short_ids:
                return mapping[s]
            head, sep, tail = s.rpartition("/")
            if sep and tail in short_ids:
                return head + sep + mapping[tail]
            head, sep, tail = s.rpartition(":")
            if sep and tail in short_ids and head.startswith("urn:"):
                return head + sep + mapping[tail]
        return s

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return fix(node)
        return node

    out = walk(bundle)
    originals = [e.get("resource") or {} for e in bundle.get("entry") or []]
    for entry, orig in zip(out.get("entry") or [], originals):
        res = entry.get("resource") or {}
        if res.get("resourceType") != "Patient":
            continue
        for ident, orig_ident in zip(res.get("identifier") or [], orig.get("identifier") or []):
            if isinstance(ident, dict) and isinstance(ident.get("value"), str) and ident["value"] \
                    and ident["value"] == orig_ident.get("value"):
                ident["value"] = f"{ident['value']}-c{copy}"
    return out


def _load(path: Path) -> dict:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)


def make_inputs(data_dir: Path, n_base: int, factors: list[int], in_root: Path) -> dict[int, dict]:
    """Write x{k}/ for every factor; returns {k: {"dir", "files", "bytes", "raw_bytes"}}."""
    base = sorted(p for p in data_dir.iterdir() if p.name.endswith((".json", ".json.gz")))[:n_base]
    if len(base) < n_base:
        raise SystemExit(f"bench_scale: only {len(base)} bundles in {data_dir}, asked for {n_base}")
    bundles = {p: _load(p) for p in base}
    cache: dict[tuple[str, int], tuple[bytes, int]] = {}  # (base name, copy) -> (file bytes, raw json bytes)
    info = {}
    for k in factors:
        target = in_root / f"x{k}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        total = raw_total = 0
        for p in base:
            stem = p.name.split(".json")[0]
            gz = p.name.endswith(".gz")
            for c in range(k):
                if (p.name, c) not in cache:
                    raw = json.dumps(rekey_bundle(bundles[p], c), ensure_ascii=False).encode()
                    blob = gzip.compress(raw, compresslevel=6, mtime=0) if gz else raw
                    cache[(p.name, c)] = (blob, len(raw))
                blob, raw_len = cache[(p.name, c)]
                (target / f"{stem}-c{c:03d}.json{'.gz' if gz else ''}").write_bytes(blob)
                total += len(blob)
                raw_total += raw_len
        info[k] = {"dir": str(target), "files": len(base) * k, "bytes": total, "raw_bytes": raw_total}
    return info


def check_distinct(in_dir: Path) -> tuple[int, int]:
    """(Patient resources, distinct Patient ids and identifier values) over a replicated input dir."""
    patients, keys = 0, set()
    for p in sorted(in_dir.iterdir()):
        for entry in _load(p).get("entry") or []:
            res = entry.get("resource") or {}
            if res.get("resourceType") == "Patient":
                patients += 1
                keys.add(("id", res.get("id")))
                for ident in res.get("identifier") or []:
                    keys.add((ident.get("system"), ident.get("value")))
    return patients, len(keys)


# -- memory sampling --------------------------------------------------------------------------

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is normally there (a dependency of Beam's stack)
    psutil = None


def _proc_tree_rss(pid: int) -> list[tuple[int, int]]:
    """[(pid, rss bytes)] of pid and every descendant, from /proc (fallback when psutil is missing)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        out.append((p, int(line.split()[1]) * 1024))
                        break
        except OSError:
            continue
    return out


def _psutil_tree_rss(pid: int) -> list[tuple[int, int]]:
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for p in procs:
        try:
            out.append((p.pid, p.memory_info().rss))
        except psutil.Error:
            continue
    return out


class TreeSampler(threading.Thread):
    """Samples the RSS of process trees every ``interval`` seconds until stopped.

    ``roots`` maps a role to a root pid: ``driver`` (the ``medcorpus build`` process; its
    descendants are DirectRunner SDK workers), and for Dask ``scheduler`` and ``workers`` (the
    ``dask worker`` process, whose children are the worker processes). Records the peak of the sum
    over every process, the peak of each single process, and the last CPU times seen per process.
    """

    def __init__(self, roots: dict[str, int], interval: float = 0.2):
        super().__init__(daemon=True)
        self.roots = dict(roots)
        self.pid = roots["driver"]
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak_tree = 0
        self.peak_tree_at = 0.0
        self.peak_by_process: dict[tuple[str, int], int] = {}  # (role, pid) -> peak RSS
        self.max_procs = 0
        self.samples: list[tuple[float, int, int]] = []  # (seconds, summed rss, processes)
        self._t0 = time.perf_counter()
        self._read = _psutil_tree_rss if psutil is not None else _proc_tree_rss

    def sample(self) -> None:
        seen = []
        for role, root in self.roots.items():
            seen += [(role, pid, rss) for pid, rss in self._read(root)]
        if not seen:
            return
        total = sum(r for _, _, r in seen)
        now = time.perf_counter() - self._t0
        self.samples.append((round(now, 2), total, len(seen)))
        if total > self.peak_tree:
            self.peak_tree, self.peak_tree_at = total, now
        for role, pid, rss in seen:
            if rss > self.peak_by_process.get((role, pid), 0):
                self.peak_by_process[(role, pid)] = rss
        self.max_procs = max(self.max_procs, len(seen))

    def peaks(self) -> dict[str, int]:
        """Peak RSS: of the driver process, of the largest worker process, of the scheduler, of any one."""
        by = self.peak_by_process
        workers = [r for (role, pid), r in by.items() if (role == "driver" and pid != self.pid)
                   or (role == "workers" and pid != self.roots.get("workers"))]
        return {"peak_driver_rss": by.get(("driver", self.pid), 0),
                "peak_worker_rss": max(workers, default=0), "worker_processes": len(workers),
                "peak_scheduler_rss": max((r for (role, _), r in by.items() if role == "scheduler"), default=0),
                "peak_single_rss": max(by.values(), default=0)}

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process and its live descendants (psutil)."""
    if psutil is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


class DaskCluster:
    """A loopback ``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` as separate processes."""

    def __init__(self, workers: int, tmp: Path):
        self.workers, self.tmp = workers, tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.address = ""

    def __enter__(self) -> "DaskCluster":
        import dask.distributed as ddist

        dask_bin = Path(sys.executable).parent / "dask"
        self.tmp.mkdir(parents=True, exist_ok=True)
        sched_file = self.tmp / "scheduler.json"
        sched_file.unlink(missing_ok=True)
        env = dict(os.environ, MEDCORPUS_SECRET=BENCH_SECRET)  # the workers read the secret themselves
        logs = {role: open(self.tmp / f"{role}.log", "w") for role in ("scheduler", "workers")}
        self.procs["scheduler"] = subprocess.Popen(
            [str(dask_bin), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(sched_file)], stdout=logs["scheduler"], stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        deadline = time.time() + 60
        while not sched_file.is_file():
            if time.time() > deadline:
                raise SystemExit("bench_scale: the dask scheduler did not start")
            time.sleep(0.2)
        self.procs["workers"] = subprocess.Popen(
            [str(dask_bin), "worker", "--scheduler-file", str(sched_file), "--nworkers", str(self.workers),
             "--nthreads", "1", "--no-dashboard", "--local-directory", str(self.tmp)],
            stdout=logs["workers"], stderr=subprocess.STDOUT, env=env, cwd=str(REPO), start_new_session=True)
        with ddist.Client(scheduler_file=str(sched_file), timeout=60) as client:
            client.wait_for_workers(self.workers, timeout=120)
            self.address = client.scheduler.address
        return self

    def pids(self) -> dict[str, int]:
        return {role: p.pid for role, p in self.procs.items()}

    def cpu_seconds(self) -> float:
        return sum(tree_cpu_seconds(p.pid) for p in self.procs.values())

    def __exit__(self, *exc) -> None:
        import signal

        for role in ("workers", "scheduler"):
            proc = self.procs.get(role)
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


# -- one build --------------------------------------------------------------------------------

def medcorpus_command(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    for cand in (Path(sys.executable).parent / "medcorpus", REPO / ".venv" / "bin" / "medcorpus"):
        if cand.exists():
            return [str(cand)]
    return [sys.executable, "-m", "pipelines.cli"]


def manifest_counts(m: dict) -> dict:
    stages = m.get("stages") or {}
    units = stages.get("units") or {}
    docs = stages.get("documents") or {}
    pats = stages.get("patients") or {}
    by_split = (m.get("counts") or {}).get("by_split") or {}
    return {
        "patients": (pats.get("terminology") or {}).get("out") or (pats.get("tasks") or {}).get("in", 0),
        "resources": (units.get("read") or {}).get("in", 0),
        "units_written": (m.get("reconciliation") or {}).get("units", {}).get("written", 0),
        "documents": (docs.get("deid") or {}).get("out", 0),
        "documents_after_dedup": (docs.get("dedup") or {}).get("out", 0),
        "rows_by_split": by_split,
        "examples": sum(by_split.get(s, 0) for s in ("sft", "preference", "evaluation")),
        "rejected_rows": (m.get("counts") or {}).get("rejected_rows", 0),
        "reconciled": bool((m.get("reconciliation") or {}).get("ok")),
        "pipeline_s": m.get("duration_s"),
        "shard_sha256": sorted(s["sha256"] for t in (m.get("shards") or {}).values() for s in t),
    }


def run_build(cmd: list[str], in_dir: str, out_dir: Path, runner: str, workers: int, extra: list[str],
              interval: float, log: Path) -> dict:
    """One build on the DirectRunner (multi-processing, ``workers`` processes) or on a fresh loopback
    Dask cluster of ``workers`` single-threaded worker processes."""
    argv = cmd + ["build", "--source", f"fhir:{in_dir}", "--output", str(out_dir), "--overwrite"] + extra
    env = dict(os.environ, MEDCORPUS_SECRET=BENCH_SECRET)
    cluster = DaskCluster(workers, OUT_ROOT / "dask") if runner == "dask" else None
    if cluster is None:
        argv += [f"--direct_num_workers={workers}"]
    else:
        cluster.__enter__()
        argv += ["--runner", "dask", "--dask_client_address", cluster.address]
    try:
        cluster_cpu0 = cluster.cpu_seconds() if cluster else 0.0
        with open(log, "w") as fh:
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd="/tmp")
            sampler = TreeSampler({"driver": proc.pid, **(cluster.pids() if cluster else {})}, interval)
            sampler.start()
            code = proc.wait()
            wall = time.perf_counter() - t0
            sampler.stop()
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build and every descendant it waited for
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        if cluster:
            cpu += cluster.cpu_seconds() - cluster_cpu0
    finally:
        if cluster:
            cluster.__exit__(None, None, None)
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"bench_scale: build failed (exit {code}): {' '.join(argv)}\n--- {log} (tail)\n{tail}")
    manifest = json.loads((out_dir / "manifest.json").read_text())
    return {
        "argv": argv, "runner": runner, "wall_s": wall, "cpu_s": cpu, "peak_tree_rss": sampler.peak_tree,
        **sampler.peaks(), "max_processes": sampler.max_procs,
        "peak_tree_at_s": round(sampler.peak_tree_at, 1), "rss_samples": sampler.samples,
        **manifest_counts(manifest),
    }


# -- report -----------------------------------------------------------------------------------

def print_table(rows: list[dict]) -> None:
    head = (f"{'runner':>7}{'factor':>7}{'workers':>8}{'in MB':>7}{'patients':>9}{'resources':>10}{'docs':>6}"
            f"{'wall s':>8}{'res/s':>8}{'CPU s':>8}{'res/s/core':>11}{'driver MB':>10}{'worker MB':>10}"
            f"{'sched MB':>9}{'all MB':>8}{'cores':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['runner']:>7}{r['factor']:>6}x{r['workers']:>8}{r['input_mb']:>7.2f}{r['patients']:>9}"
              f"{r['resources']:>10}{r['documents']:>6}{r['wall_s']:>8.1f}{r['resources'] / r['wall_s']:>8.1f}"
              f"{r['cpu_s']:>8.1f}{r['resources'] / max(r['cpu_s'], 1e-9):>11.1f}{r['peak_driver_rss'] / MB:>10.0f}"
              f"{r['peak_worker_rss'] / MB:>10.0f}{r['peak_scheduler_rss'] / MB:>9.0f}"
              f"{r['peak_tree_rss'] / MB:>8.0f}{r['cpu_s'] / r['wall_s']:>6.2f}")


def growth(rows: list[dict]) -> list[str]:
    lines = []
    for runner, w in sorted({(r["runner"], r["workers"]) for r in rows}):
        mine = sorted((r for r in rows if r["workers"] == w and r["runner"] == runner), key=lambda r: r["factor"])
        base = mine[0]
        if len(mine) < 2:
            continue
        lines.append(f"growth vs {base['factor']}x, {runner}, {w} worker(s):")
        for r in mine[1:]:
            data = r["input_mb"] / base["input_mb"]
            tr = r["wall_s"] / base["wall_s"]
            mr = r["peak_tree_rss"] / base["peak_tree_rss"]
            sr = r["peak_single_rss"] / base["peak_single_rss"]
            wr = r["peak_worker_rss"] / max(base["peak_worker_rss"], 1)
            marg = (r["wall_s"] - base["wall_s"]) / (r["resources"] - base["resources"]) * 1000 \
                if r["resources"] != base["resources"] else float("nan")
            lines.append(f"  {r['factor']:>3}x: data x{data:.2f} (patients x{r['patients'] / max(base['patients'], 1):.2f}),"
                         f" time x{tr:.2f} (time/data {tr / data:.2f}; marginal {marg:.1f} ms/resource),"
                         f" all-process RSS x{mr:.2f}, largest worker x{wr:.2f}, largest process x{sr:.2f}")
        last = mine[-1]
        data = last["input_mb"] / base["input_mb"]
        tr = last["wall_s"] / base["wall_s"]
        mr = last["peak_tree_rss"] / base["peak_tree_rss"]
        # linear (or better) when time grows no faster than data and the per-resource marginal cost
        # between the two largest factors is not much above the one between the two smallest
        margs = []
        for a, b in zip(mine, mine[1:]):
            if b["resources"] != a["resources"]:
                margs.append((b["wall_s"] - a["wall_s"]) / (b["resources"] - a["resources"]))
        steady = len(margs) < 2 or margs[-1] <= 1.5 * max(margs[0], 1e-9)
        linear = tr / data <= 1.2 and steady
        lines.append(f"  time grows ~linearly: {'yes' if linear else 'no'} (time ratio / data ratio = "
                     f"{tr:.2f} / {data:.2f} = {tr / data:.2f}"
                     + (f"; marginal s/1000 resources {', '.join(f'{m * 1000:.1f}' for m in margs)}" if margs else "")
                     + ")")
        lines.append(f"  peak memory flat: {'yes' if mr <= 1.25 else 'no'} (all processes "
                     f"{base['peak_tree_rss'] / MB:.0f} -> {last['peak_tree_rss'] / MB:.0f} MB, x{mr:.2f}"
                     f" for x{data:.2f} data; driver {base['peak_driver_rss'] / MB:.0f} -> "
                     f"{last['peak_driver_rss'] / MB:.0f} MB; largest worker {base['peak_worker_rss'] / MB:.0f} -> "
                     f"{last['peak_worker_rss'] / MB:.0f} MB)")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Arguments after '--' are passed on to 'medcorpus build'.")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory of FHIR bundles (.json/.json.gz)")
    ap.add_argument("--base-bundles", type=int, default=6,
                    help="number of base bundles (default 6: the full default run then takes about 13 minutes "
                         "on 2 cores; 12 takes about 25)")
    ap.add_argument("--factors", default="1,4,16", help="replication factors (default 1,4,16)")
    ap.add_argument("--workers", default="2", help="worker processes: --direct_num_workers, and dask workers "
                    "(--nworkers, one thread each); comma-separated values (default 2)")
    ap.add_argument("--runners", default="direct,dask",
                    help="direct (DirectRunner, multi-processing) and/or dask (a fresh loopback dask scheduler + "
                         "workers per build, --runner dask); default direct,dask")
    ap.add_argument("--interval", type=float, default=0.2, help="RSS sampling interval in seconds")
    ap.add_argument("--medcorpus", help="medcorpus executable (default: next to this Python, else .venv/bin)")
    ap.add_argument("--in-root", type=Path, default=IN_ROOT)
    ap.add_argument("--out-root", type=Path, default=OUT_ROOT)
    ap.add_argument("--json", type=Path, help="write the results (with RSS time series) to this JSON file")
    args, extra = ap.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    factors = sorted({int(x) for x in args.factors.split(",") if x.strip()})
    workers = [int(x) for x in args.workers.split(",") if x.strip()]
    runners = [x.strip() for x in args.runners.split(",") if x.strip()]
    if set(runners) - {"direct", "dask"}:
        raise SystemExit("bench_scale: --runners takes direct and/or dask")
    cmd = medcorpus_command(args.medcorpus)

    t = time.perf_counter()
    inputs = make_inputs(args.data, args.base_bundles, factors, args.in_root)
    print(f"inputs: {args.base_bundles} base bundles from {args.data} -> "
          + ", ".join(f"x{k}: {v['files']} files, {v['bytes'] / MB:.2f} MB gz ({v['raw_bytes'] / MB:.1f} MB JSON)"
                      for k, v in inputs.items())
          + f" [{time.perf_counter() - t:.1f} s]", flush=True)
    top = max(factors)
    n_pat, n_keys = check_distinct(Path(inputs[top]["dir"]))
    print(f"x{top}: {n_pat} Patient resources, {n_keys} distinct Patient ids/identifier values", flush=True)
    print(f"memory sampler: {'psutil ' + psutil.__version__ if psutil else '/proc VmRSS'}, every {args.interval} s;"
          f" command: {' '.join(cmd)}", flush=True)

    args.out_root.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in factors:
        for runner in runners:
            for w in workers:
                out = args.out_root / f"x{k}"
                log = args.out_root / f"x{k}-{runner}-w{w}.log"
                print(f"  building x{k} on {runner} with {w} worker(s) ...", end=" ", flush=True)
                res = run_build(cmd, inputs[k]["dir"], out, runner, w, extra, args.interval, log)
                res.update(factor=k, workers=w, input_mb=inputs[k]["bytes"] / MB,
                           input_raw_mb=inputs[k]["raw_bytes"] / MB, input_files=inputs[k]["files"])
                print(f"{res['wall_s']:.1f} s, {res['cpu_s']:.1f} CPU s, {res['patients']} patients, peak RSS: all "
                      f"{res['peak_tree_rss'] / MB:.0f} MB (at {res['peak_tree_at_s']} s, {res['max_processes']} "
                      f"processes), driver {res['peak_driver_rss'] / MB:.0f} MB, largest worker "
                      f"{res['peak_worker_rss'] / MB:.0f} MB, {res['cpu_s'] / res['wall_s']:.2f} cores busy"
                      f"{'' if res['reconciled'] else ', DOES NOT RECONCILE'}", flush=True)
                rows.append(res)

    print()
    print_table(rows)
    print("(in MB: gzip-compressed bundles on disk; docs: notes extracted; wall s includes Beam start-up and "
          "per-worker loading of the spaCy/Presidio engines (not the Dask cluster's start); CPU s: user + system "
          "seconds of the build, its SDK workers and, on Dask, the scheduler and worker processes; res/s/core: "
          "resources / CPU s; driver / worker / sched MB: peak RSS of the build process / of the largest worker "
          "process / of the Dask scheduler; all MB: peak of the summed RSS of every process; cores: CPU s / wall s)")
    for k in factors:
        mine = [r for r in rows if r["factor"] == k]
        extra_info = ", ".join(f"{r['runner']} {r['workers']}w: pipeline {r['pipeline_s']} s, docs after dedup "
                               f"{r['documents_after_dedup']}, examples {r['examples']}" for r in mine)
        same = len({tuple(r["shard_sha256"]) for r in mine}) == 1
        print(f"x{k}: {extra_info}; outputs identical across runners and worker counts: {'yes' if same else 'no'}")
    base_pat = {(r["runner"], r["workers"]): r["patients"] for r in rows if r["factor"] == factors[0]}
    scaled = all(r["patients"] == base_pat[(r["runner"], r["workers"])] * r["factor"] // factors[0] for r in rows)
    print(f"patients scale with the factor: {'yes' if scaled else 'no'}")
    print()
    for line in growth(rows):
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "base_bundles": args.base_bundles, "factors": factors, "workers": workers, "runners": runners,
            "data": str(args.data),
            "interval_s": args.interval, "command": cmd, "inputs": inputs, "results": rows,
            "growth": growth(rows), "patients_scale": scaled,
        }, indent=2))
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
