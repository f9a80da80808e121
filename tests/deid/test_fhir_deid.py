"""FHIR structural de-identification on every Synthea bundle of the sample."""
from __future__ import annotations

import base64
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from transforms.deid.fhir_deid import deidentify_patient_resources, shift_fhir_date
from transforms.deid.keys import patient_key
from transforms.deid.text import TextDeidentifier, known_phi_from_patient_resource

SAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "sample" / "data" / "fhir" / "synthea"
SECRET = b"test-secret-0123456789"


def clinical_codes(resources):
    """Multiset of (resource type, system, code) of Condition/Observation/Procedure/MedicationRequest."""
    c = Counter()
    for r in resources:
        if r["resourceType"] in ("Condition", "Observation", "Procedure", "MedicationRequest"):
            cc = r.get("code") or r.get("medicationCodeableConcept") or {}
            for coding in cc.get("coding", []):
                c[(r["resourceType"], coding.get("system"), coding.get("code"))] += 1
    return c


@pytest.fixture(scope="module")
def deid():
    return TextDeidentifier({}, SECRET)


@pytest.mark.parametrize("bundle", sorted(SAMPLE.glob("*.json.gz"))[:6], ids=lambda p: p.name[:8])
def test_no_patient_identifier_survives_and_codes_are_unchanged(bundle, deid):
    resources = [e["resource"] for e in json.loads(gzip.decompress(bundle.read_bytes()))["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    known = known_phi_from_patient_resource(patient)
    out, counts = deidentify_patient_resources(
        resources, secret=SECRET, patient_id=patient["id"], date_shift_days=-40,
        text_deid=lambda t, lang=None: deid.deidentify(t, language="en", date_shift_days=-40, known=known),
        policy={})
    blob = json.dumps(out)
    decoded = " ".join(base64.b64decode(a["data"]).decode() for r in out for c in r.get("content", [])
                       for a in [c.get("attachment", {})] if a.get("data"))
    everything = (blob + " " + decoded).lower()
    phi = [p for n in patient["name"] for p in n.get("given", []) + [n["family"]]]
    phi += [re.sub(r"\d+$", "", p) for p in phi]
    phi += [i["value"] for i in patient["identifier"]] + [t["value"] for t in patient.get("telecom", [])]
    phi += [l for a in patient.get("address", []) for l in a.get("line", [])] + [patient["birthDate"]]
    for value in phi:  # whole-word matches: "Lor" must not be found inside "Chloride"
        assert not re.search(rf"(?<![a-z0-9]){re.escape(value.lower())}(?![a-z0-9])", everything), \
            "a patient identifier survived de-identification"
    assert clinical_codes(out) == clinical_codes(resources)
    assert f"Patient/{patient_key(SECRET, patient['id'])}" in blob  # references still resolve
    assert counts["date_shifted"] > 0


def test_intervals_between_events_are_kept():
    a, b = "2019-02-21T10:00:00+00:00", "2019-03-01"
    assert shift_fhir_date(a, -40) == "2019-01-12T10:00:00+00:00"
    assert shift_fhir_date(b, -40) == "2019-01-20"
    assert shift_fhir_date("2019-02", 10) == "2019-02" and shift_fhir_date("2019", 10) is None


def test_zip_codes_keep_three_digits_and_restricted_areas_become_000(deid):
    patient = {"resourceType": "Patient", "id": "p", "address": [{"line": ["1 Main St"], "city": "X", "state": "CA",
                                                                  "postalCode": "91702"}]}
    other = {"resourceType": "Patient", "id": "q", "address": [{"postalCode": "03601"}]}
    out, _ = deidentify_patient_resources([patient], secret=SECRET, patient_id="p", date_shift_days=1,
                                          text_deid=lambda t, l=None: (t, {}), policy={})
    assert out[0]["address"] == [{"state": "CA", "postalCode": "917"}]
    out, _ = deidentify_patient_resources([other], secret=SECRET, patient_id="q", date_shift_days=1,
                                          text_deid=lambda t, l=None: (t, {}), policy={})
    assert out[0]["address"][0]["postalCode"] == "000"


def test_patient_over_89_keeps_no_birth_date():
    p = {"resourceType": "Patient", "id": "old", "birthDate": "1920-01-01"}
    enc = {"resourceType": "Encounter", "id": "e", "subject": {"reference": "Patient/old"},
           "period": {"start": "2020-05-01T00:00:00Z"}}
    out, counts = deidentify_patient_resources([p, enc], secret=SECRET, patient_id="old", date_shift_days=3,
                                               text_deid=lambda t, l=None: (t, {}), policy={})
    assert "birthDate" not in out[0] and counts["age_over_89_generalized"] == 1
