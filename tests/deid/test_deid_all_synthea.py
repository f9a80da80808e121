"""`medcorpus deid` on a third of the 88 Synthea bundles of the shared development data (every third
file; all 88 go through the same de-identification in tests/pipeline/test_build_shared_data.py,
whose corpus is scanned for every patient's identifiers): no patient identifier (name parts, SSN,
driver's licence, passport, MRN, phone, street line, birth date) anywhere in the output — base64
note attachments decoded and included — and the clinical codes unchanged."""
from __future__ import annotations

import base64
import gzip
import json
import re
import shutil

import pytest

from pipelines.cli import main
from tests.deid.test_fhir_deid import clinical_codes as _codes
from transforms.deid.files import output_path


def _resources(path):
    return [e["resource"] for e in json.loads(gzip.decompress(path.read_bytes()))["entry"]]


@pytest.mark.slow
def test_deid_of_synthea_bundles_leaves_no_identifier_and_keeps_codes(shared_data, tmp_path, monkeypatch):
    every = sorted((shared_data / "fhir" / "synthea-california").glob("*.json.gz"))
    assert len(every) == 88
    src = tmp_path / "in"
    src.mkdir()
    for f in every[::3]:
        shutil.copy(f, src / f.name)
    out = tmp_path / "deid"
    monkeypatch.setenv("MEDCORPUS_SECRET", "all-synthea-test-secret-0123")
    assert main(["deid", str(src), "--output", str(out)]) == 0
    inputs = sorted(src.glob("*.json.gz"))
    checked = 0
    for f in inputs:
        keyed = output_path(b"all-synthea-test-secret-0123", f.name, "fhir-json", True)  # names are keyed
        before, after = _resources(f), _resources(out / keyed)
        assert _codes(after) == _codes(before), f.name
        text = json.dumps(after)
        text += " ".join(base64.b64decode(a["data"]).decode("utf-8", "ignore") for r in after
                         for c in r.get("content", []) + r.get("presentedForm", [])
                         for a in [c.get("attachment", c)] if a.get("data"))
        text = text.lower()
        patient = next((r for r in before if r["resourceType"] == "Patient"), None)
        if patient is None:
            continue  # organisation / practitioner bundles: no patient to look for
        values = [p for n in patient["name"] for p in n.get("given", []) + [n["family"]]]
        values += [re.sub(r"\d+$", "", v) for v in values if len(re.sub(r"\d+$", "", v)) >= 4]
        values += [i["value"] for i in patient["identifier"]] + [t["value"] for t in patient.get("telecom", [])]
        values += [l for a in patient.get("address", []) for l in a.get("line", [])] + [patient["birthDate"]]
        for v in values:
            assert not re.search(rf"(?<![a-z0-9]){re.escape(v.lower())}(?![a-z0-9])", text), \
                f"{f.name}: a patient identifier survived"
        checked += 1
    assert checked >= 27
