"""FHIR throughput side by side, one run: orjson, fhir.resources, medcorpus's reader, and whole builds.

    python benchmarks/bench_fhir_parse.py [--repeat 2] [--bundles 88] [--no-builds]

All rows read the same gzip Synthea bundles in ``../shared/data/fhir/synthea-california`` (the
first ``--bundles``, sorted by name):

* orjson: ``orjson.loads`` of each decompressed bundle (JSON parsing alone, no FHIR checks);
* fhir.resources alone: ``Bundle.model_validate_json`` (R4B) on the same bytes (what a user would
  write; one invalid entry fails the whole bundle);
* medcorpus reader: ``iter_fhir_units`` - gunzip, orjson, every entry validated against its R4B
  model on its own (a bad resource is rejected alone), positions recorded;
* records-only build: ``medcorpus build`` of the same bundles with every free text taken out
  (narratives, notes, ``DocumentReference`` and ``presentedForm`` attachments; written to
  ``/tmp/bench_fhir_parse/records``), in one process (``--direct_running_mode=in_memory``);
* full build: ``medcorpus build`` of the bundles as they are (narratives and notes included).

The parse rows are timed in this process (best of ``--repeat``) and use one core. The builds report
CPU seconds (user + system of the build process, which runs on one core) and resources per CPU
second, end to end and after start-up: the start-up (imports, Beam, loading the spaCy/Presidio and
terminology engines) is measured by a records-only build of the first bundle and subtracted
(``(CPU - CPU_1) / (resources - resources_1)``).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "fhir" / "synthea-california"
WORK = Path("/tmp/bench_fhir_parse")
BENCH_SECRET = "bench-fhir-parse-secret-0123456789"
#: taken out of every resource for the records-only inputs: the places free text lives
TEXT_ELEMENTS = ("text", "note", "presentedForm", "conclusion", "comment", "description")
TEXT_RESOURCES = ("DocumentReference",)


def records_only(bundle: dict) -> dict:
    """A copy of a bundle without free text: no narratives, notes or text attachments."""
    out = dict(bundle)
    entries = []
    for entry in bundle.get("entry") or []:
        res = (entry or {}).get("resource") or {}
        if res.get("resourceType") in TEXT_RESOURCES:
            continue
        entries.append({**entry, "resource": {k: v for k, v in res.items() if k not in TEXT_ELEMENTS}})
    out["entry"] = entries
    return out


def _medcorpus() -> list[str]:
    exe = Path(sys.executable).parent / "medcorpus"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pipelines.cli"]


def timed_build(source: Path, out: Path) -> dict:
    """One in-memory build as a subprocess: CPU seconds and the manifest's counts."""
    argv = _medcorpus() + ["build", "--source", f"fhir:{source}", "--output", str(out), "--overwrite",
                           "--direct_running_mode=in_memory"]
    env = dict(os.environ, MEDCORPUS_SECRET=BENCH_SECRET)
    log = out.with_suffix(".log")
    out.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        code = subprocess.call(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd="/tmp")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise SystemExit(f"bench_fhir_parse: build failed ({code}), see {log}")
    manifest = json.loads((out / "manifest.json").read_text())
    units = manifest["stages"]["units"]
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "resources": units["read"]["in"], "notes": ((manifest["stages"].get("documents") or {}).get("deid") or {}).get("out", 0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2, help="timed passes of the parse rows (best is kept)")
    ap.add_argument("--bundles", type=int, default=88, help="how many bundles (sorted by name) to read")
    ap.add_argument("--no-builds", action="store_true", help="only the parse rows")
    args = ap.parse_args()
    import orjson
    from fhir.resources.R4B.bundle import Bundle

    from transforms.io.fhir_parse import iter_fhir_units

    paths = sorted(DATA.glob("*.json.gz"))[:args.bundles]
    files = [(f.name, f.read_bytes()) for f in paths]
    if not files:
        print(f"no Synthea bundles in {DATA}", file=sys.stderr)
        return 2
    raw = [gzip.decompress(b) for _, b in files]
    mb = sum(len(r) for r in raw) / 1e6
    list(iter_fhir_units(files[0][1], "warm-up"))  # load the model classes once
    Bundle.model_validate_json(raw[0])

    def with_orjson():
        n = 0
        for blob in raw:
            n += len(orjson.loads(blob).get("entry") or [])
        return n, 0

    def ours():
        n = bad = 0
        for name, blob in files:
            for unit in iter_fhir_units(blob, name):
                n += 1
                bad += bool(unit.get("reject"))
        return n, bad

    def theirs():
        n = failed = 0
        for blob in files:
            try:
                n += len(Bundle.model_validate_json(gzip.decompress(blob[1])).entry or [])
            except Exception:  # noqa: BLE001 - one bad entry fails the bundle
                failed += 1
        return n, failed

    rows = []
    for label, fn in (("orjson.loads (JSON only)", with_orjson),
                      ("fhir.resources Bundle.model_validate_json", theirs),
                      ("medcorpus reader (iter_fhir_units)", ours)):
        best = None
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            n, bad = fn()
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        rows.append((label, n, bad, best))
    print(f"{len(files)} bundles, {mb:.1f} MB of JSON")
    print(f"{'reader':44s} {'resources':>9s} {'bad':>4s} {'s':>7s} {'res/s':>8s} {'MB/s':>6s}")
    for label, n, bad, dt in rows:
        print(f"{label:44s} {n:9d} {bad:4d} {dt:7.2f} {n / dt:8.0f} {mb / dt:6.2f}")
    (_, a, _, ta), (_, b, _, tb) = rows[2], rows[1]
    print(f"ratio (medcorpus reader / fhir.resources, resources/s): {(a / ta) / (b / tb):.2f}x")
    if args.no_builds:
        return 0

    records = WORK / "records"
    if records.exists():
        shutil.rmtree(records)
    (records / "all").mkdir(parents=True)
    (records / "one").mkdir(parents=True)
    for i, ((name, _), blob) in enumerate(zip(files, raw)):
        data = gzip.compress(orjson.dumps(records_only(orjson.loads(blob))), mtime=0)
        (records / "all" / name).write_bytes(data)
        if i == 0:
            (records / "one" / name).write_bytes(data)
    print("\nbuilds (one process, in-memory DirectRunner; CPU = user + system seconds):")
    startup = timed_build(records / "one", WORK / "out-startup")
    builds = [("records-only build", timed_build(records / "all", WORK / "out-records")),
              ("full build (narratives and notes)", timed_build(DATA if args.bundles >= len(list(DATA.glob("*.json.gz")))
                                                                 else _subset(paths), WORK / "out-full"))]
    print(f"{'build':36s} {'resources':>9s} {'notes':>6s} {'wall s':>7s} {'CPU s':>7s} {'res/s/core':>11s} "
          f"{'after start-up':>15s}")
    print(f"{'start-up (records-only, 1 bundle)':36s} {startup['resources']:9d} {startup['notes']:6d} "
          f"{startup['wall_s']:7.1f} {startup['cpu_s']:7.1f}")
    for label, b in builds:
        marginal = (b["resources"] - startup["resources"]) / max(b["cpu_s"] - startup["cpu_s"], 1e-9)
        print(f"{label:36s} {b['resources']:9d} {b['notes']:6d} {b['wall_s']:7.1f} {b['cpu_s']:7.1f} "
              f"{b['resources'] / b['cpu_s']:11.0f} {marginal:15.0f}")
    print("(res/s/core: resources / CPU seconds of the whole build; after start-up: the 1-bundle build's "
          "resources and CPU subtracted)")
    return 0


def _subset(paths: list[Path]) -> Path:
    """The first bundles as their own directory (copies: a link out of the source root is rejected), for
    --bundles below the full set."""
    target = WORK / "full-subset"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for p in paths:
        shutil.copyfile(p, target / p.name)
    return target


if __name__ == "__main__":
    sys.exit(main())
