"""Hostile and odd inputs for the end-to-end tests, generated on the fly (tiny; nothing committed).

``write_hostile_inputs(root)`` writes every case of issue 15 under ``root`` and returns what a run
must do with them: the exact rejects (source, position, stage, kind) and the good units that must
be written beside them. Limits are set low in ``CONFIG`` so the inputs that hit them stay small.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import zipfile
from pathlib import Path

MARK = "ZZPHI"  # raw values in the broken units carry this; no rejected row or summary may quote it
EXPLODES = "explodes"  # a resource id that ``breaking_structural_deid`` makes the structural walk fail on

CONFIG = """\
limits:
  max_note_chars: 2000
  max_csv_cell_chars: 1000
  max_bundle_entries: 5
split:
  evaluation_ratio: 0.0   # every document reaches pretraining, so row ids can be compared
"""


def _patient(pid, **extra):
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1971-03-04", **extra}


def _obs(oid, subject):
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "valueQuantity": {"value": 72, "unit": "/min"}, "effectiveDateTime": "2022-05-06", "subject": subject}


def _doc(did, pid, text):
    return {"resourceType": "DocumentReference", "id": did, "status": "current", "subject": {"reference": f"Patient/{pid}"},
            "date": "2022-05-06T10:00:00Z",
            "content": [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(text.encode()).decode()}}]}


def _ndjson(*lines) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else json.dumps(line, ensure_ascii=False).encode()
                      for line in lines) + b"\n"


def deep_extension_patient(levels: int) -> bytes:
    inner = '{"url": "http://x", "valueString": "%s"}' % MARK
    ext = '{"url": "http://x", "extension": [' * levels + inner + "]}" * levels
    return ('{"resourceType": "Patient", "id": "deep-%s", "extension": [%s]}' % (MARK, ext)).encode()


NOTE_A = ("Outpatient follow-up. The patient reports a dry cough for three days without fever or chest pain. "
          "Lungs are clear on auscultation, oxygen saturation is normal at rest and after walking. Plan: fluids, "
          "rest and a review in one week if the cough persists or new symptoms appear. Smoking cessation advised.")
NOTE_B = ("Emergency visit for a sprained left ankle after a fall on stairs. Swelling over the lateral malleolus, "
          "no bony tenderness at the posterior edge, able to bear weight for four steps, so no radiograph was "
          "taken. Treated with ice, compression and elevation; crutches given; return if pain worsens at night.")
NOTE_C = ("Nephrology clinic letter. Chronic kidney disease stage three with stable creatinine over the last year; "
          "blood pressure controlled on an ACE inhibitor, potassium within range. Dietary advice on salt and protein "
          "was repeated, the anaemia screen is normal, and the next review is booked in six months with bloods.")
NOTE_D = ("Orthopaedic review six weeks after a distal radius wrist fracture treated in a cast. The cast was removed, "
          "the radiograph shows callus and good alignment, grip strength is reduced but improving. Physiotherapy "
          "referral made for range of motion exercises; no further imaging is needed unless pain recurs.")
ZH_NOTE = "第{}份记录：患者咳嗽三天，无发热，双肺呼吸音清，建议多饮水休息，一周后复诊。"


def _dicom_bomb() -> bytes:
    from pydicom.data import get_testdata_file

    head = Path(get_testdata_file("CT_small.dcm")).read_bytes()[:132]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(4):
            zf.writestr(f"study/IM{i}", head + b"\0" * (2 << 20))  # 8 MB of zeros in a few KB
    return buf.getvalue()


def write_hostile_inputs(root: Path) -> dict:
    """Write the cases; return {"sources", "rejects" [(source, position, stage, kind)], "written" [source#position]}."""
    from pydicom.data import get_testdata_file

    fhir, text, text2, dicom, outside = (root / n for n in ("fhir", "text", "text2", "dicom", "outside"))
    for d in (fhir, text, text2, dicom, outside):
        d.mkdir(parents=True)

    # -- FHIR ----------------------------------------------------------------------------------------
    (fhir / "id_object.ndjson").write_bytes(_ndjson(_patient({"v": MARK}), _patient("ok-a")))
    (fhir / "id_numeric.ndjson").write_bytes(_ndjson(
        _patient(123, identifier=[{"value": "MRN-123"}]), _obs(9, {"reference": "Patient/123"}),
        _patient("ok-b", identifier=[{"value": 456}])))
    (fhir / "entry_string.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        MARK, {"fullUrl": "urn:uuid:ok-c", "resource": _patient("ok-c")}]}))
    (fhir / "line_array.ndjson").write_bytes(_ndjson([1, MARK], _patient("ok-d")))
    (fhir / "deep.ndjson").write_bytes(_ndjson(deep_extension_patient(480), _patient("ok-e")))
    (fhir / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(_patient("ok-f")).encode())
    (fhir / "utf16.ndjson").write_bytes(_ndjson(_patient("ok-g"), _obs("o-g", {"reference": "Patient/ok-g"}))
                                        .decode().encode("utf-16"))
    (fhir / "gb18030.json").write_bytes(json.dumps(_patient("ok-h", name=[{"family": "张", "given": ["伟"]}]),
                                                   ensure_ascii=False).encode("gb18030"))
    (fhir / "bad_subject.ndjson").write_bytes(_ndjson(
        _patient("ok-i"), _obs("o-i1", f"Patient/{MARK}"), _obs("o-i2", {"reference": "Patient/ok-i"})))
    pretty = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _patient(f"t{i}", name=[{"family": MARK}])} for i in range(30)]}, indent=2)
    (fhir / "truncated.json").write_text(pretty[: len(pretty) // 2])
    (fhir / "long_note.ndjson").write_bytes(_ndjson(
        _patient("ok-j"), _doc("d-long", "ok-j", (MARK + " cough. ") * 400), _doc("d-short", "ok-j", NOTE_A)))
    (fhir / "big_bundle.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _patient(f"big{i}")} for i in range(6)]}))
    condition = {"resourceType": "Condition", "id": "c-k", "subject": {"reference": "Patient/ok-k"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}
    (fhir / "deid_fails.ndjson").write_bytes(_ndjson(  # malformed shapes kept (flagged) by lenient validation
        _patient("ok-k", identifier=MARK + "-not-a-list", name={"family": MARK}),
        {**condition, "id": EXPLODES}, condition))
    (outside / "secret.json").write_text(json.dumps(_patient("outside-" + MARK)))
    os.symlink(outside / "secret.json", fhir / "link.json")

    # -- text (two sources that both hold notes.txt) ----------------------------------------------------
    (text / "notes.txt").write_text(NOTE_C)
    (text2 / "notes.txt").write_text(NOTE_D)
    buf = io.StringIO()
    rows = csv.writer(buf, lineterminator="\n")
    rows.writerows([["id", "patient_id", "text", "comment"], ["n1", "ok-a", NOTE_A, MARK * 300],
                    ["n2", "ok-a", NOTE_B, "fine"]])
    (text / "long_cell.csv").write_text(buf.getvalue())
    zh = [json.dumps({"id": f"zh{i}", "text": ZH_NOTE.format(i)}, ensure_ascii=False).encode() for i in range(5)]
    zh[2] = zh[2].replace("咳嗽".encode(), b"\xff\xfe")  # one damaged byte pair in one line
    (text / "bad_byte.jsonl").write_bytes(b"\n".join(zh) + b"\n")
    (text / "long_note.jsonl").write_bytes(_ndjson({"id": "big", "text": (MARK + " note ") * 400},
                                                   {"id": "small", "text": NOTE_B}))
    (text / "bad_fields.jsonl").write_bytes(_ndjson({"id": "x1", "patient_id": {"mrn": MARK}, "text": NOTE_A},
                                                    {"id": "x2", "patient_id": "ok-b", "text": NOTE_B}))
    (text / "utf16.txt").write_bytes(("UTF-16 note. " + NOTE_B).encode("utf-16"))

    # -- DICOM --------------------------------------------------------------------------------------------
    (dicom / "bomb.zip").write_bytes(_dicom_bomb())
    (dicom / "ct.dcm").write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes())

    t = "text:text/"  # both text sources hold notes.txt, so both are labelled by their folder name
    rejects = [
        ("fhir:id_object.ndjson", "line 1", "read", "invalid_id"),
        ("fhir:entry_string.json", "entry 0", "read", "invalid_entry"),
        ("fhir:line_array.ndjson", "line 1", "read", "invalid_json"),
        ("fhir:deep.ndjson", "line 1", "read", "too_deeply_nested"),
        ("fhir:bad_subject.ndjson", "line 2", "read", "invalid_patient_reference"),
        ("fhir:truncated.json", "file", "read", "invalid_json"),
        ("fhir:long_note.ndjson", "line 2", "read", "text_too_long"),
        ("fhir:big_bundle.json", "file", "read", "too_many_entries"),
        ("fhir:deid_fails.ndjson", "line 2", "deid", "deid_failed:ValueError"),
        ("fhir:link.json", "file", "read", "symlink_outside_root"),
        (t + "long_cell.csv", "line 2", "read", "csv_cell_too_large"),
        (t + "long_note.jsonl", "line 1", "read", "text_too_long"),
        (t + "bad_fields.jsonl", "line 1", "read", "invalid_patient_id"),
        ("dicom:bomb.zip", "file", "read", "compression_ratio_exceeded"),
    ]
    written = (["fhir:id_object.ndjson#line 2"] + [f"fhir:id_numeric.ndjson#line {i}" for i in (1, 2, 3)]
               + ["fhir:entry_string.json#entry 1", "fhir:line_array.ndjson#line 2", "fhir:deep.ndjson#line 2",
                  "fhir:bom.json#file", "fhir:utf16.ndjson#line 1", "fhir:utf16.ndjson#line 2", "fhir:gb18030.json#file",
                  "fhir:bad_subject.ndjson#line 1", "fhir:bad_subject.ndjson#line 3", "fhir:long_note.ndjson#line 1",
                  "fhir:long_note.ndjson#line 3", "fhir:deid_fails.ndjson#line 1", "fhir:deid_fails.ndjson#line 3",
                  t + "notes.txt#file", "text:text2/notes.txt#file", t + "long_cell.csv#line 3",
                  t + "long_note.jsonl#line 2", t + "bad_fields.jsonl#line 2", t + "utf16.txt#file",
                  "dicom:ct.dcm#file"]
               + [f"{t}bad_byte.jsonl#line {i}" for i in range(1, 6)])
    sources = [f"fhir:{fhir}", f"text:{text}", f"text:{text2}", f"dicom:{dicom}"]
    return {"sources": sources, "rejects": rejects, "written": written}


def breaking_structural_deid():
    """A context in which the structural FHIR walk fails on any batch holding the resource
    ``EXPLODES`` (the walk itself no longer fails on malformed shapes; this stands for its next bug)."""
    import contextlib

    import pytest

    from transforms.deid import fhir_deid

    original = fhir_deid.deidentify_patient_resources

    def walk(resources, **kwargs):
        if any(r.get("id") == EXPLODES for r in resources):
            raise ValueError("a bug in the walk")
        return original(resources, **kwargs)

    @contextlib.contextmanager
    def patched():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(fhir_deid, "deidentify_patient_resources", walk)
            yield

    return patched()
