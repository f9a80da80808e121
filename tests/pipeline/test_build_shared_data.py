"""The whole shared development data (88 Synthea bundles + Bulk NDJSON): counts reconcile, the
expectation suites pass, no patient is in two split families, every matrix cell is reported, and no
identifier of any of the 88 Synthea patients is in any output row."""
from __future__ import annotations

import gzip
import json
import re

import pyarrow.parquet as pq
import pytest

from expectations.validate import validate_corpus
from pipelines.cli import main
from tests.pipeline.helpers import patient_families
from schemas.tables import LAYOUT, SPLITS
from transforms.deid.keys import patient_key

SECRET = "shared-data-test-secret-0123"


def _patient(bundle_path):
    resources = [e["resource"] for e in json.loads(gzip.decompress(bundle_path.read_bytes()))["entry"]]
    return next((r for r in resources if r["resourceType"] == "Patient"), None)


def _identifiers(patient) -> list[str]:
    """Name parts (with and without Synthea's digits), identifiers, telecom, street lines, birth date.
    A name part stripped of its digits that is a clinical word ("White193" -> "white", as in "White
    blood cells" of a lab table) is searched with its digits only."""
    from transforms.deid.text.lexicon import lexicon

    clinical = lexicon().clinical
    values = [p for n in patient["name"] for p in n.get("given", []) + [n["family"]]]
    values += [re.sub(r"\d+$", "", v) for v in values if len(re.sub(r"\d+$", "", v)) >= 4
               and re.sub(r"\d+$", "", v).lower() not in clinical]
    values += [i["value"] for i in patient["identifier"]] + [t["value"] for t in patient.get("telecom", [])]
    values += [l for a in patient.get("address", []) for l in a.get("line", [])] + [patient["birthDate"]]
    return [v.lower() for v in values]


def _text_by_patient(out) -> dict[str, str]:
    """Every output row's content, lower-cased, joined per patient key."""
    by_key: dict[str, list[str]] = {}
    for d in (*SPLITS, "review", "rejected"):
        for f in sorted((out / d).rglob("*.parquet")):
            for row in pq.read_table(f).to_pylist():
                by_key.setdefault(row.get("patient_key") or "", []).append(
                    json.dumps(row, ensure_ascii=False, default=str).lower())
    return {k: "\n".join(v) for k, v in by_key.items()}


@pytest.mark.slow
def test_build_of_the_shared_data(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET)
    out = tmp_path / "corpus"
    assert main(["build", "--source", f"fhir:{shared_data / 'fhir' / 'synthea-california'}",
                 "--source", f"fhir:{shared_data / 'fhir' / 'bulk-ndjson-10-patients'}", "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reconciliation"]["ok"], manifest["reconciliation"]["problems"]
    assert manifest["reconciliation"]["units"]["read"] > 35_000
    assert all(manifest["counts"]["by_split"][text] > 0 for text, _ in LAYOUT.values())
    result = validate_corpus(out)
    assert result.success, result.summary_lines()
    patient_families(out)  # fails if a patient is in evaluation and training
    from transforms.tiering.matrix import load_matrix

    reported = {c["task_id"] for c in manifest["matrix"]["cells"]}
    assert reported == {t["id"] for t in load_matrix().tasks}
    assert set(manifest["matrix"]["blind_spots"]) <= reported

    # each patient's identifiers, searched in that patient's rows (another patient's note may mention
    # "white" or a date that happens to be this patient's birth date; those are not leaks)
    texts = _text_by_patient(out)
    checked = 0
    for bundle in sorted((shared_data / "fhir" / "synthea-california").glob("*.json.gz")):
        patient = _patient(bundle)
        if patient is None:
            continue  # organisation / practitioner bundles
        text = texts.get(patient_key(SECRET.encode(), patient["id"]), "")
        checked += bool(text)
        for v in _identifiers(patient):
            assert not re.search(rf"(?<![a-z0-9]){re.escape(v)}(?![a-z0-9])", text), \
                f"{bundle.name}: a patient identifier survived in the corpus"
    assert checked >= 80
