"""The run manifest: what was read, what happened to it at each stage, and what was written.

Built on the driver after the pipeline finishes, from the ledger events the stages emitted
(``_stats/events.json``) and the shards on disk. Counts must reconcile exactly:

* per stage: ``in == out + filtered + rejected``;
* between stages: what one stage passes on is what the next receives;
* end to end, for input units: ``read == written + filtered (by reason) + rejected``;
* rows counted by the writers equal the rows in the Parquet shards.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.tables import FAMILIES, FAMILY, LAYOUT, SPLITS, TABLES
from transforms.write.stats import STATS_FILE

#: (ledger, stage that passes on, stage that receives)
CHAINS = [
    ("units", "read", "link"),
    ("units", "link", "deid"),
    ("documents", ("deid", "linearise"), "boilerplate"),
    ("documents", "boilerplate", "quality"),
    ("documents", "quality", "dedup"),
    ("documents", "dedup", "tier"),
    ("documents", "tier", "split"),
    ("examples", "tasks", "example_dedup"),
    ("examples", "example_dedup", "split"),
]


def load_events(out_dir: str) -> list[list]:
    path = FileSystems.join(out_dir, "_stats", STATS_FILE)
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as fh:
        return orjson.loads(fh.read())


def ledger_tables(events: list[list]) -> dict:
    """ledger -> stage -> {"in", "out", "filtered": {reason: n}, "rejected": {reason: n}, "by_kind": {...}}."""
    ledgers: dict = defaultdict(lambda: defaultdict(lambda: {"in": 0, "out": 0, "filtered": {}, "rejected": {},
                                                             "other": {}}))
    for ledger, stage, outcome, reason, kind, n in events:
        st = ledgers[ledger][stage]
        if outcome in ("in", "out"):
            st[outcome] += n
        elif outcome in ("filtered", "rejected"):
            st[outcome][reason] = st[outcome].get(reason, 0) + n
        else:
            key = f"{outcome}:{reason}" if reason else outcome
            st["other"][key] = st["other"].get(key, 0) + n
    return {lg: {s: dict(v) for s, v in stages.items()} for lg, stages in ledgers.items()}


def _sum(d: dict) -> int:
    return sum(d.values())


def reconcile(ledgers: dict, rows_written: dict[str, int], rows_counted: dict[str, int]) -> dict:
    problems = []
    for ledger in ("units", "documents", "examples", "patients"):
        for stage, st in (ledgers.get(ledger) or {}).items():
            if st["in"] and st["in"] != st["out"] + _sum(st["filtered"]) + _sum(st["rejected"]):
                problems.append(f"{ledger}/{stage}: in {st['in']} != out {st['out']} + filtered "
                                f"{_sum(st['filtered'])} + rejected {_sum(st['rejected'])}")
    for ledger, a, b in CHAINS:
        sources = a if isinstance(a, tuple) else (a,)
        passed = sum(((ledgers.get(ledger) or {}).get(x) or {}).get("out", 0) for x in sources)
        sb = (ledgers.get(ledger) or {}).get(b)
        received = sb["in"] if sb else 0
        if passed != received:
            problems.append(f"{ledger}: {' + '.join(sources)} passed on {passed} but {b} received {received}")
    units = ledgers.get("units") or {}
    read = units.get("read", {}).get("in", 0)
    written = units.get("deid", {}).get("out", 0)
    filtered = {f"{s}:{r}": n for s, st in units.items() for r, n in st["filtered"].items()}
    rejected = {f"{s}:{r}": n for s, st in units.items() for r, n in st["rejected"].items()}
    if read != written + _sum(filtered) + _sum(rejected):
        problems.append(f"units: read {read} != written {written} + filtered {_sum(filtered)} + rejected {_sum(rejected)}")
    docs_out = (ledgers.get("documents") or {}).get("split", {}).get("out", 0)
    ex_out = (ledgers.get("examples") or {}).get("split", {}).get("out", 0)
    doc_rows = sum(rows_counted.get(t, 0) for t in LAYOUT["pretraining"])
    if docs_out != doc_rows:
        problems.append(f"documents: split passed {docs_out} but the pretraining writers counted {doc_rows}")
    ex_rows = sum(rows_counted.get(t, 0) for f in ("sft", "preference", "evaluation") for t in LAYOUT[f])
    if ex_out != ex_rows:
        problems.append(f"examples: split passed {ex_out} but the writers counted {ex_rows}")
    for table, n in rows_counted.items():
        if rows_written.get(table, 0) != n:
            problems.append(f"{table}: writers counted {n} rows but the shards hold {rows_written.get(table, 0)}")
    return {
        "ok": not problems,
        "problems": problems,
        "units": {"read": read, "written": written, "filtered": filtered, "rejected": rejected},
        "definitions": "units are input FHIR resources, text documents and DICOM instances; a unit is written when "
                       "it reaches a de-identified patient record or document; documents and examples are "
                       "reconciled stage by stage in 'stages'",
    }


def list_shards(out_dir: str) -> dict[str, list[dict]]:
    shards: dict[str, list[dict]] = {}
    for table in TABLES:
        result = FileSystems.match([FileSystems.join(out_dir, table, "*.parquet")])[0]
        entries = []
        for meta in sorted(result.metadata_list, key=lambda m: m.path):
            with FileSystems.open(meta.path) as fh:
                data = fh.read()
            rows = pq.read_metadata(pq_buffer(data)).num_rows
            entries.append({"path": f"{table}/{meta.path.rsplit('/', 1)[-1]}", "rows": rows,
                            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        shards[table] = entries
    return shards


def pq_buffer(data: bytes):
    import pyarrow as pa

    return pa.BufferReader(data)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat(timespec="seconds")


def _stat_block(ledgers: dict, ledger: str) -> dict:
    out: dict = defaultdict(int)
    for st in (ledgers.get(ledger) or {}).values():
        for key, n in st["other"].items():
            out[key] += n
        for key, n in st["rejected"].items():
            out[f"rejected:{key}"] += n
        if st["out"]:
            out["out"] += st["out"]
    return dict(sorted(out.items()))


def matrix_fill(out_dir: str, matrix_path: str) -> dict:
    """Examples per task cell and split, the distribution of examples per (disease, scenario) — an
    example counts for the diseases its answer names — and the blind spots: task cells, and (disease,
    scenario) cells a task serves, holding fewer examples than their minimum (the task's quota.min,
    at least the matrix's ``blind_spot_min``)."""
    from transforms.tiering.matrix import load_matrix

    matrix = load_matrix(matrix_path)
    counts: dict = defaultdict(lambda: defaultdict(int))
    dist: dict = defaultdict(lambda: defaultdict(int))
    docs_per_disease: dict = defaultdict(int)
    for split in SPLITS:
        result = FileSystems.match([FileSystems.join(out_dir, split, "*.parquet")])[0]
        for meta in result.metadata_list:
            with FileSystems.open(meta.path) as fh:
                table = pq.read_table(pq_buffer(fh.read()), columns=["task_id", "disease_ids", "scenario_ids"])
            for task_id, diseases, scenarios in zip(*(table.column(c).to_pylist()
                                                      for c in ("task_id", "disease_ids", "scenario_ids"))):
                if FAMILY[split] == "pretraining":
                    for d in diseases or []:
                        docs_per_disease[d] += 1
                    continue
                if task_id:
                    counts[task_id][FAMILY[split]] += 1
                for d in diseases or ["(no disease)"]:
                    for sc in scenarios or ["(no scenario)"]:
                        dist[d][sc] += 1
    floor = int(getattr(matrix, "blind_spot_min", 1))
    cells = []
    for task in matrix.tasks:
        per_split = {s: counts.get(task["id"], {}).get(s, 0) for s in FAMILIES}
        total = sum(per_split.values())
        minimum = max(int((task.get("quota") or {}).get("min", 1)), floor)
        cells.append({"task_id": task["id"], "disease": task.get("disease"), "scenario": task.get("scenario"),
                      "per_split": per_split, "total": total, "min": minimum, "blind_spot": total < minimum})
    served = defaultdict(set)  # scenario -> diseases a task serves there
    disease_ids = [d["id"] for d in matrix.diseases]
    for task in matrix.tasks:
        served[task["scenario"]].update(disease_ids if task.get("disease") == "*" else [task.get("disease")])
    gaps = sorted(f"{d} x {sc}" for sc, ds in served.items() for d in ds if dist.get(d, {}).get(sc, 0) < floor)
    return {"version": matrix.version, "blind_spot_min": floor, "cells": cells,
            "blind_spots": [c["task_id"] for c in cells if c["blind_spot"]],
            "distribution": {d: dict(sorted(v.items())) for d, v in sorted(dist.items())},
            "pretraining_documents_per_disease": dict(sorted(docs_per_disease.items())),
            "disease_scenario_gaps": gaps}


def finish_manifest(out_dir: str, *, run_id: str, version: str, config: dict, config_hash: str, secret,
                    input_fingerprint: str = "",
                    runner: str, sources, started: float, finished: float, deid_policy: dict) -> dict:
    events = load_events(out_dir)
    ledgers = ledger_tables(events)
    shards = list_shards(out_dir)
    rows_written = {t: sum(s["rows"] for s in entries) for t, entries in shards.items()}
    rows_counted: dict[str, int] = defaultdict(int)
    for ledger, stage, outcome, reason, kind, n in events:
        if ledger == "rows" and stage == "write" and outcome == "out":
            rows_counted[reason] += n
    for split in SPLITS:
        rows_counted.setdefault(split, 0)
    counts_by_kind: dict = defaultdict(lambda: defaultdict(int))
    for ledger, stage, outcome, reason, kind, n in events:
        if ledger == "units" and stage == "read":
            counts_by_kind[kind or "unknown"][outcome if outcome in ("in", "out") else outcome] += n
        if ledger == "files" and stage == "read" and outcome == "in":
            counts_by_kind[kind or "unknown"]["files"] += n
    from transforms.terminology import table_versions

    manifest = {
        "run_id": run_id,
        "medcorpus_version": version,
        "demo": secret.demo,
        "secret_fingerprint": secret.fingerprint,
        "config_hash": config_hash,
        "input_fingerprint": input_fingerprint,
        "deid_policy": {"id": deid_policy.get("policy_id"), "version": deid_policy.get("version"),
                        "date_shift_max_days": int((deid_policy.get("date_shift") or {}).get("max_days", 365))},
        "table_versions": table_versions(config),
        "runner": runner,
        "started": _iso(started),
        "finished": _iso(finished),
        "duration_s": round(finished - started, 1),
        "sources": [{"kind": s.kind, "root": _public_root(s.kind, s.root, secret.value)} for s in sources],
        "counts": {
            "by_source_kind": {k: dict(v) for k, v in sorted(counts_by_kind.items())},
            "by_split": {t: rows_written.get(t, 0) for t in SPLITS},
            "rejected_rows": rows_written.get("rejected", 0),
            "review_rows": rows_written.get("review", 0),
        },
        "stages": ledgers,
        "reconciliation": reconcile(ledgers, rows_written, {k: v for k, v in rows_counted.items()
                                                            if k in SPLITS}),
        "deid": {
            "entities": _stat_block(ledgers, "deid_entities"),
            "dicom_actions": _stat_block(ledgers, "dicom_actions"),
            "images": _stat_block(ledgers, "images"),
        },
        "terminology": _stat_block(ledgers, "terminology"),
        "incremental": {
            "patients_reused": ((ledgers.get("cache") or {}).get("deid") or {}).get("other", {}).get("hit", 0),
            "patients_rebuilt": ((ledgers.get("cache") or {}).get("deid") or {}).get("other", {}).get("miss", 0),
        } if ledgers.get("cache") else None,
        "decontamination": _stat_block(ledgers, "decontamination"),
        "leakage": {"problems": sorted(_stat_block(ledgers, "leakage"))},
        "matrix": matrix_fill(out_dir, config["matrix"]),
        "shards": shards,
    }
    path = FileSystems.join(out_dir, "manifest.json")
    with FileSystems.create(path) as fh:
        fh.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return manifest


def _public_root(kind: str, root: str, secret: bytes) -> str:
    """A source root as the shareable files show it: the bundled sample by name, any other root by a keyed
    pseudonym (an absolute path names people and machines; a folder name can carry a patient's name)."""
    from pipelines.sample.export import SAMPLE_DIR
    from transforms.write.source_names import root_id

    if "://" not in root:
        try:
            return "bundled-sample/" + str(Path(root).resolve().relative_to(SAMPLE_DIR))
        except (ValueError, OSError):
            pass
    return root_id(secret, kind, root)
