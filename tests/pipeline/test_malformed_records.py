"""Malformed but parseable input (kept by lenient validation) is de-identified or rejected with a reason, never a crash."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from pipelines.cli import main
from schemas.tables import SPLITS


def test_malformed_patient_shapes_are_rejected_not_fatal(tmp_path, monkeypatch, capsys):
    src = tmp_path / "fhir"
    src.mkdir()
    lines = [
        {"resourceType": "Patient", "id": "weird", "name": {"family": "NotAList"}, "identifier": "also-not-a-list"},
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/weird"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "59621000"}]}},
        {"resourceType": "Patient", "id": "fine", "gender": "female", "birthDate": "1980-02-03"},
    ]
    (src / "mixed.ndjson").write_text("\n".join(json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("MEDCORPUS_SECRET", "malformed-test-secret-0123456")
    out = tmp_path / "out"
    # three resources make no training example: the build says so (exit 1) but does not crash
    assert main(["build", "--source", f"fhir:{src}", "--output", str(out), "--direct_running_mode", "in_memory"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("medcorpus: error:")]
    assert len(errors) == 1 and "every training split is empty" in errors[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reconciliation"]["ok"], manifest["reconciliation"]["problems"]
    assert manifest["reconciliation"]["units"]["read"] == 3
    rejected = [r for f in (out / "rejected").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    # the malformed Patient is de-identified (its PHI read from a repaired copy), not its whole record rejected
    assert not [r for r in rejected if r["stage"] == "deid"]
    assert manifest["reconciliation"]["units"]["written"] == 3
    for table in ("rejected", "review", *SPLITS):
        rows = [r for f in (out / table).glob("*.parquet") for r in pq.read_table(f).to_pylist()]
        blob = json.dumps(rows, default=str)
        assert "NotAList" not in blob and "also-not-a-list" not in blob, table
