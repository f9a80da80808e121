"""The whole shared development data (88 Synthea bundles + Bulk NDJSON): counts reconcile, the
expectation suites pass, no patient is in two split families, every matrix cell is reported."""
from __future__ import annotations

import json

import pytest

from expectations.validate import validate_corpus
from pipelines.cli import main
from tests.pipeline.helpers import patient_families
from schemas.tables import SPLITS


@pytest.mark.slow
def test_build_of_the_shared_data(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCORPUS_SECRET", "shared-data-test-secret-0123")
    out = tmp_path / "corpus"
    assert main(["build", "--source", f"fhir:{shared_data / 'fhir' / 'synthea-california'}",
                 "--source", f"fhir:{shared_data / 'fhir' / 'bulk-ndjson-10-patients'}", "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reconciliation"]["ok"], manifest["reconciliation"]["problems"]
    assert manifest["reconciliation"]["units"]["read"] > 35_000
    assert all(manifest["counts"]["by_split"][s] > 0 for s in SPLITS)
    result = validate_corpus(out)
    assert result.success, result.summary_lines()
    patient_families(out)  # fails if a patient is in evaluation and training
    from transforms.tiering.matrix import load_matrix

    reported = {c["task_id"] for c in manifest["matrix"]["cells"]}
    assert reported == {t["id"] for t in load_matrix().tasks}
    assert set(manifest["matrix"]["blind_spots"]) <= reported
