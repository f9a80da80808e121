"""`medcorpus deid` (issue 14, route 9): planted identifiers reach no output file and no file name;
one person has one pseudonym and one date shift across FHIR, DICOM and notes; inputs of nobody are
shifted too, and DICOM says MODIFIED only when its dates moved."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os

import pydicom
import pytest

from pipelines.cli import main
from tests.pipeline.routes_inputs import (CT_SOP_UNLINKED, ENCOUNTER_START, NOTE_DATE, PATIENT_IDS, STUDY_DATE,
                                          UNLINKED_DATE, output_strings, planted, write_inputs)
from transforms.deid.keys import date_shift_days, keyed_uid, patient_key

SECRET = "routes-deid-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def deid_run(tmp_path_factory):
    src = write_inputs(tmp_path_factory.mktemp("routes-in"))
    out = tmp_path_factory.mktemp("routes-out") / "deid"
    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        assert main(["deid", str(src), "--output", str(out), "--direct_running_mode=in_memory"]) == 0
    finally:
        os.environ.pop("MEDCORPUS_SECRET", None)
    return src, out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_planted_identifier_in_any_output_file_or_name(deid_run, lang):
    src, out = deid_run
    blob = output_strings(out)
    written = json.loads((out / "deid_summary.json").read_text())["counts"]
    assert written["files:written"] == 14 and "files:rejected" not in " ".join(written)
    for value in planted(lang):
        assert value not in blob, f"a planted {lang} identifier reached the deid output"
    anchor = "赖诺普利" if lang == "zh" else "continue lisinopril"
    assert blob.count(anchor) >= 4  # the notes themselves (JSONL, CSV, text, SR) are in the output


def _bundles(out):
    return [p for p in out.rglob("*.json") if p.name != "deid_summary.json"]


def _dicoms(out):
    return {str(d.SOPInstanceUID): d for d in (pydicom.dcmread(p) for p in out.rglob("*.dcm"))}


def test_one_person_one_pseudonym_and_one_shift_across_fhir_dicom_and_notes(deid_run):
    _, out = deid_run
    secret = SECRET.encode()
    pk = patient_key(secret, PATIENT_IDS["en"])
    shift = date_shift_days(secret, PATIENT_IDS["en"])
    bundles = [json.loads(p.read_text(encoding="utf-8")) for p in _bundles(out)]
    en = next(b for b in bundles if any(e["resource"]["id"] == pk for e in b["entry"]))
    enc = next(e["resource"] for e in en["entry"] if e["resource"]["resourceType"] == "Encounter")
    moved = (dt.date.fromisoformat(enc["period"]["start"][:10]) - dt.date.fromisoformat(ENCOUNTER_START)).days
    assert moved == shift
    ct = next(d for d in _dicoms(out).values() if d.Modality == "CT" and str(d.get("PatientID", "")) == pk)
    assert str(ct.PatientName) == pk and ct.LongitudinalTemporalInformationModified == "MODIFIED"
    assert (dt.datetime.strptime(ct.StudyDate, "%Y%m%d").date()
            - dt.datetime.strptime(STUDY_DATE, "%Y%m%d").date()).days == shift
    notes = [json.loads(l) for p in out.rglob("*.jsonl") for l in p.read_text(encoding="utf-8").splitlines()]
    note = next(n for n in notes if n.get("patient_id") == pk)
    assert (dt.date.fromisoformat(note["date"]) - dt.date.fromisoformat(NOTE_DATE)).days == shift
    assert note["metadata"]["pages"] == 2 and note["language"] == "en" and note["doc_type"] == "clinical_note"


def test_inputs_of_nobody_are_shifted_and_stamped_modified_only_when_shifted(deid_run):
    _, out = deid_run
    unlinked = _dicoms(out)[keyed_uid(SECRET.encode(), CT_SOP_UNLINKED)]
    assert unlinked.StudyDate != STUDY_DATE and unlinked.LongitudinalTemporalInformationModified == "MODIFIED"
    note = next(json.loads(l) for p in out.rglob("*.jsonl") for l in p.read_text(encoding="utf-8").splitlines()
                if "Walk-in" in l)
    assert note["date"] != UNLINKED_DATE and "07/15/2019" not in note["text"] and "patient_id" not in note
    assert 0 < abs((dt.date.fromisoformat(note["date"]) - dt.date.fromisoformat(UNLINKED_DATE)).days) <= 365


def test_bundle_shell_keeps_no_identifier_or_timestamp(deid_run):
    _, out = deid_run
    for p in _bundles(out):
        doc = json.loads(p.read_text(encoding="utf-8"))
        assert set(doc) <= {"resourceType", "id", "type", "total", "meta", "entry"}
        assert not any(set(e) - {"fullUrl", "resource", "request", "search"} for e in doc["entry"])
    assert not list(out.rglob("*.gz")) or all(gzip.decompress(p.read_bytes()) for p in out.rglob("*.gz"))
