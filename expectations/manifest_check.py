"""Check a corpus against its own ``manifest.json``: the shard list, every shard's row count and sha256.

A shard that was edited, truncated, replaced, added or deleted after the build (or after
``medcorpus forget``, which updates the manifest) fails here, whatever the expectation suites say
about its rows. Results use the same check records as the suites (``expectations.validate``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq

DIMENSION = "integrity"


def _check(table: str, expectation: str, details: list[str]) -> dict:
    return {"table": table, "expectation": expectation, "column": None, "success": not details,
            "unexpected": len(details), "details": details, "dimension": DIMENSION}


def manifest_checks(out: Path) -> list[dict]:
    path = out / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        shards = manifest["shards"]
    except (OSError, ValueError, KeyError, TypeError):
        return [_check("manifest", "expect_manifest_to_list_the_shards",
                       ["manifest.json is missing or unreadable: the shards cannot be verified"])]
    checks = []
    for table, listed in sorted(shards.items()):
        on_disk = {f"{table}/{p.name}" for p in (out / table).glob("*.parquet")}
        named = {s["path"] for s in listed}
        listing = [f"{p}: listed in manifest.json but missing" for p in sorted(named - on_disk)]
        listing += [f"{p}: not listed in manifest.json" for p in sorted(on_disk - named)]
        rows, sha = [], []
        for s in listed:
            f = out / s["path"]
            if not f.is_file():
                continue
            try:
                n = pq.read_metadata(f).num_rows
            except Exception as exc:  # noqa: BLE001 - a damaged shard is a finding, not a crash
                rows.append(f"{s['path']}: not a readable Parquet file ({type(exc).__name__})")
                n = None
            if n is not None and n != s["rows"]:
                rows.append(f"{s['path']}: {n} rows, manifest.json says {s['rows']}")
            if hashlib.sha256(f.read_bytes()).hexdigest() != s["sha256"]:
                sha.append(f"{s['path']}: sha256 differs from manifest.json")
        checks += [_check(table, "expect_shard_list_to_match_manifest", listing),
                   _check(table, "expect_shard_row_counts_to_match_manifest", rows),
                   _check(table, "expect_shard_sha256_to_match_manifest", sha)]
    return checks
