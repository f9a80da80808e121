"""Lineage rows (RESTRICTED): for every output row, its inputs and the stages (with versions) it passed.

Documents name the exact input units they came from (``<kind>:<path>#<position>``); task examples
are built from a whole patient record and name ``patient:<key>``, which ``lineage/inputs`` expands
to every input unit of that patient. No content is copied: only ids, paths and positions.
"""
from __future__ import annotations

import hashlib

import orjson

DOCUMENT_STAGES = ("read", "link", "deid", "terminology", "quality", "dedup", "tier", "split", "write")
EXAMPLE_STAGES = ("read", "link", "deid", "terminology", "tasks", "split", "write")


def stage_versions(*, medcorpus: str, deid_policy: dict, quality_policy: dict, matrix_version: str,
                   table_versions: dict) -> dict[str, str]:
    """The version each stage ran with; code-only stages carry the medcorpus version."""
    tables = hashlib.sha256(orjson.dumps(table_versions, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    versions = {stage: medcorpus for stage in set(DOCUMENT_STAGES) | set(EXAMPLE_STAGES)}
    versions.update({
        "deid": f"{deid_policy.get('policy_id', 'policy')}/{deid_policy.get('version', '?')}",
        "terminology": f"tables-{tables}",
        "quality": f"policy/{quality_policy.get('version', '?')}",
        "tier": f"matrix/{matrix_version}",
        "tasks": f"matrix/{matrix_version}",
    })
    return versions


def lineage_row(row: dict, split: str, versions: dict[str, str]) -> dict:
    """``split`` is the table (dataset config) the row was written to."""
    from schemas.tables import FAMILY

    stages = DOCUMENT_STAGES if FAMILY.get(split, split) == "pretraining" else EXAMPLE_STAGES
    return {
        "id": row["id"],
        "split": split,
        "patient_key": row.get("patient_key"),
        "inputs": sorted(set(row.get("_inputs") or [])),
        "stages": [f"{s}@{versions[s]}" for s in stages],
    }
