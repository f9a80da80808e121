"""``medcorpus forget DIR``: remove one or more patients' data from a built corpus, everywhere.

Patients are named by their pseudonymous ``patient_key`` (``--key``), by their source patient id
and the run secret (``--patient-id``; the key is recomputed, the id is never written), or by an
input file (``--source``, looked up in the restricted ``lineage/inputs``). Every shard of the
splits, the review queue and the lineage that holds one of their rows is rewritten without them;
rejected rows, ``lineage/sources`` rows and ``audit.json`` inputs that point only at their input
files go too. The manifest (shards, sha256, counts,
matrix cells), DATA_CARD.md and the report are updated, and the audit log records the removal
(key fingerprints and row counts, never an id). Expectation results that may quote removed rows
are deleted; run ``medcorpus validate DIR`` again.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import io
import shutil
from collections import defaultdict
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import UserError
from schemas.tables import FAMILIES, FAMILY, SPLITS

#: tables whose rows carry patient_key, rewritten by forget
KEYED_TABLES = tuple(SPLITS) + ("review", "lineage/rows", "lineage/inputs")


def _key_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _shards(out: Path, table: str) -> list[Path]:
    return sorted((out / table).glob("*.parquet"))


def keys_for_sources(out: Path, sources: list[str]) -> set[str]:
    """Patients whose input units came from these files (``kind:path`` or ``kind:path#position``)."""
    keys: set[str] = set()
    found = set()
    for shard in _shards(out, "lineage/inputs"):
        t = pq.read_table(shard, columns=["source", "position", "patient_key"])
        for src, pos, key in zip(*(t.column(c).to_pylist() for c in ("source", "position", "patient_key"))):
            for want in sources:
                if want == src or want == f"{src}#{pos}":
                    keys.add(key)
                    found.add(want)
    missing = [s for s in sources if s not in found]
    if missing:
        raise UserError(f"no patient data from {missing[0]} in {out}/lineage/inputs "
                        "(sources are written as KIND:PATH relative to their --source root, e.g. fhir:bundle.json)")
    return keys


def _sources_only_of(out: Path, keys: set[str]) -> set[str]:
    """Input files every unit of which belongs to a forgotten patient: their relative paths and the
    pseudonyms (``source_id``) that rejected/ and audit.json use for them."""
    owners: dict[str, set[str]] = defaultdict(set)
    alias: dict[str, str] = {}
    for shard in _shards(out, "lineage/inputs"):
        t = pq.read_table(shard)
        ids = t.column("source_id").to_pylist() if "source_id" in t.column_names else [None] * t.num_rows
        for src, key, sid in zip(t.column("source").to_pylist(), t.column("patient_key").to_pylist(), ids):
            owners[src].add(key)
            if sid:
                alias[src] = sid
    only = {src for src, who in owners.items() if who <= keys}
    return only | {alias[src] for src in only if src in alias}


def _rewrite(path: Path, table: pa.Table) -> dict:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    data = buf.getvalue()
    tmp = path.with_suffix(".parquet.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a crash leaves the old shard or the new one, never half a shard
    return {"rows": table.num_rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def forget(out: Path, keys: set[str]) -> dict:
    """Remove every row of these patients; return {"rows_removed": {table: n}, "shards": [...], ...}."""
    if not (out / "manifest.json").is_file():
        raise UserError(f"no manifest.json in {out} (is it a medcorpus output directory?)")
    if not keys:
        raise UserError("name at least one patient (--key, --patient-id or --source)")
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    key_array = pa.array(sorted(keys), type=pa.string())
    drop_sources = _sources_only_of(out, keys)
    removed: dict[str, int] = defaultdict(int)
    removed_tasks: dict[tuple[str, str], int] = defaultdict(int)
    rewritten: dict[str, dict] = {}
    source_set = pa.array(sorted(drop_sources), type=pa.string())
    for table in KEYED_TABLES + ("rejected", "lineage/sources"):
        for shard in _shards(out, table):
            t = pq.read_table(shard)
            if table in ("rejected", "lineage/sources"):  # files that held only these patients' data
                hit = pc.is_in(t.column("source"), value_set=source_set)
            else:
                hit = pc.is_in(t.column("patient_key"), value_set=key_array)
            hit = pc.fill_null(hit, False)
            n = pc.sum(hit).as_py() or 0
            if not n:
                continue
            if table in SPLITS:
                for task_id in t.filter(hit).column("task_id").to_pylist():
                    if task_id:
                        removed_tasks[(task_id, FAMILY[table])] += 1
            rel = f"{table}/{shard.name}"
            rewritten[rel] = _rewrite(shard, t.filter(pc.invert(hit)))
            removed[table] += n
    _update_manifest(manifest, rewritten, removed, removed_tasks)
    event = {
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "who": _user(),
        "patients": len(keys),
        "key_fingerprints": sorted(_key_fingerprint(k) for k in keys),
        "rows_removed": dict(sorted(removed.items())),
        "shards_rewritten": sorted(rewritten),
    }
    manifest.setdefault("forgotten", []).append(event)
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    _update_audit(out, manifest, event, drop_sources)
    from pipelines.datacard import write_data_card

    write_data_card(str(out), manifest)
    if (out / "quality").exists():  # GX results may quote values of the removed rows
        shutil.rmtree(out / "quality")
    if (out / "cache").exists():  # the incremental cache holds the patients' de-identified records
        shutil.rmtree(out / "cache")
    from pipelines.report import write_report

    write_report(out)
    return event


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"


def _update_manifest(manifest: dict, rewritten: dict, removed: dict, removed_tasks: dict) -> None:
    for table, shards in (manifest.get("shards") or {}).items():
        for s in shards:
            if s["path"] in rewritten:
                s.update(rewritten[s["path"]])
    counts = manifest.get("counts") or {}
    for split in SPLITS:
        if split in (counts.get("by_split") or {}):
            counts["by_split"][split] -= removed.get(split, 0)
    counts["rejected_rows"] = counts.get("rejected_rows", 0) - removed.get("rejected", 0)
    counts["review_rows"] = counts.get("review_rows", 0) - removed.get("review", 0)
    cells = (manifest.get("matrix") or {}).get("cells") or []
    for cell in cells:
        for split in FAMILIES:
            n = removed_tasks.get((cell["task_id"], split), 0)
            if n:
                cell["per_split"][split] -= n
                cell["total"] -= n
        cell["blind_spot"] = cell["total"] < cell.get("min", 1)
    if cells:
        manifest["matrix"]["blind_spots"] = [c["task_id"] for c in cells if c["blind_spot"]]
    manifest.setdefault("reconciliation", {})["note"] = (
        "stage counts describe the original build; rows were later removed by `medcorpus forget` (see 'forgotten')")


def _update_audit(out: Path, manifest: dict, event: dict, drop_sources: set[str]) -> None:
    """Outputs re-listed; the forgotten patients' input files (pseudonym, size, sha256, or a file name
    written by an older medcorpus) are scrubbed from the inputs."""
    path = out / "audit.json"
    audit = orjson.loads(path.read_bytes()) if path.is_file() else {"run_id": manifest.get("run_id")}
    inputs = audit.get("inputs") or []
    kept = [i for i in inputs if i.get("source_id", i.get("source")) not in drop_sources
            and i.get("source") not in drop_sources]
    if len(kept) != len(inputs):
        audit["inputs"] = kept
        event["audit_inputs_removed"] = len(inputs) - len(kept)
    audit["outputs"] = [dict(s, table=t) for t, shards in manifest["shards"].items() for s in shards]
    audit.setdefault("forget", []).append(event)
    path.write_bytes(orjson.dumps(audit, option=orjson.OPT_INDENT_2))


def run_forget(args) -> int:
    out = Path(args.directory)
    if not out.is_dir():
        raise UserError(f"not a directory: {args.directory}")
    if not (out / "lineage" / "inputs").is_dir() and (args.source or args.patient_id):
        raise UserError(f"{out} has no lineage/ (built by an older medcorpus?); use --key")
    keys = set(args.key or [])
    if args.patient_id:
        from pipelines.secret import resolve_secret
        from transforms.deid.keys import patient_key

        manifest = orjson.loads((out / "manifest.json").read_bytes()) if (out / "manifest.json").is_file() else {}
        secret = resolve_secret(args.secret_file, allow_demo=bool(manifest.get("demo")), check_strength=False)
        if manifest.get("secret_fingerprint") and secret.fingerprint != manifest["secret_fingerprint"]:
            raise UserError("the secret does not match the one this corpus was built with (fingerprints differ)")
        keys |= {patient_key(secret.value, pid) for pid in args.patient_id}
    if args.source:
        keys |= keys_for_sources(out, list(args.source))
    event = forget(out, keys)
    total = sum(event["rows_removed"].values())
    print(f"medcorpus forget: {event['patients']} patient(s), {total} row(s) removed from "
          f"{len(event['shards_rewritten'])} shard(s): "
          + (", ".join(f"{t} {n}" for t, n in event["rows_removed"].items()) or "nothing found"))
    if not total:
        print("medcorpus forget: no rows matched; check the key (it is the patient_key column of the splits)")
    return 0
