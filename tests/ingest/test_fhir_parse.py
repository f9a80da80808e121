"""FHIR ingest on real data: every shape parses, every bad input is rejected with a reason."""
from __future__ import annotations

import gzip
import json

import pytest

from transforms.io.fhir_parse import iter_fhir_units, patient_identifiers, patient_ref_of


def _units(data, **kw):
    items = list(iter_fhir_units(data, "fhir:test", **kw))
    return [i for i in items if not i.get("reject")], [i for i in items if i.get("reject")]


def test_every_synthea_bundle_parses_without_rejects(shared_data):
    files = sorted((shared_data / "fhir" / "synthea-california").glob("*.json.gz"))
    assert len(files) == 88
    total = 0
    for f in files:
        units, rejects = _units(f.read_bytes())
        assert not rejects, f.name
        assert all(u["valid"] for u in units), f.name
        total += len(units)
    assert total > 10_000


def test_bulk_ndjson_resources_resolve_to_their_patient(shared_data):
    folder = shared_data / "fhir" / "bulk-ndjson-10-patients"
    patients, _ = _units((folder / "Patient.000.ndjson.gz").read_bytes())
    ids = {u["resource"]["id"] for u in patients}
    conditions, rejects = _units((folder / "Condition.000.ndjson.gz").read_bytes())
    assert not rejects and len(conditions) == 555
    assert {patient_ref_of(u["resource"], None) for u in conditions} <= ids


def test_broken_ndjson_lines_are_rejected_alone(shared_data):
    lines = gzip.decompress((shared_data / "fhir" / "bulk-ndjson-10-patients" / "Patient.000.ndjson.gz").read_bytes()).split(b"\n")
    lines = [l for l in lines if l.strip()]
    lines[2] = lines[2][: len(lines[2]) // 2]
    lines.insert(5, b"not json at all")
    units, rejects = _units(b"\n".join(lines))
    assert len(units) == len(lines) - 2
    assert sorted(r["position"] for r in rejects) == ["line 3", "line 6"]
    assert all(r["error_kind"] == "invalid_json" for r in rejects)


@pytest.mark.parametrize("data,kind", [
    (b"", "empty_file"),
    (b'{"resourceType": "Bundle", "entry": [', "invalid_json"),
    (bytes(range(256)), "not_json"),
    (b'{"resourceType": "Starship", "id": "1"}', "unknown_resource_type"),
])
def test_bad_fhir_files_are_rejected_with_a_kind(data, kind):
    units, rejects = _units(data)
    assert not units and [r["error_kind"] for r in rejects] == [kind]


def test_strict_mode_rejects_only_the_invalid_entry_and_lenient_keeps_it_flagged():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1", "gender": "male"}},
        {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "urn:uuid:p1"},
                                                "onsetDateTime": "not-a-date"}}]}
    data = json.dumps(bundle).encode()
    units, rejects = _units(data, mode="strict")
    assert [u["resource"]["id"] for u in units] == ["p1"] and [r["position"] for r in rejects] == ["entry 1"]
    assert "not-a-date" not in rejects[0]["message"]  # never quote the value
    units, rejects = _units(data, mode="lenient")
    assert not rejects and [u["valid"] for u in units] == [True, False]
    full = {u["full_url"]: u["resource"] for u in units}
    assert patient_ref_of(units[1]["resource"], full) == "p1"


def test_patient_identifiers_include_the_mrn(shared_data):
    f = sorted((shared_data / "fhir" / "synthea-california").glob("*.json.gz"))[0]
    bundle = json.loads(gzip.decompress(f.read_bytes()))
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    mrn = next(i["value"] for i in patient["identifier"] if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR")
    assert mrn in patient_identifiers(patient)
