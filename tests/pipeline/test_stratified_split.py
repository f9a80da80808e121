"""`split.stratify_by` holds out the configured share within each stratum, and no patient leaks."""
from __future__ import annotations

import json


from pipelines.cli import main
from tests.pipeline.helpers import patient_families


def test_stratified_build_keeps_patients_in_one_family(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("split:\n  evaluation_ratio: 0.3\n  stratify_by: [disease, source]\n"
                   "output:\n  rows_per_shard:\n    pretraining: 20\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", "--config", str(cfg), "--output", str(out), "--direct_running_mode", "in_memory"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reconciliation"]["ok"] and not manifest["leakage"]["problems"]
    family = patient_families(out)
    assert "evaluation" in family.values() and "train" in family.values()
    shards = sorted(p.name for p in (out / "pretraining").glob("*.parquet"))
    n = len(shards)
    assert n >= 2 and shards == [f"part-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
