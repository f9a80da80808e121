"""Small generated inputs with planted identifiers (English and Chinese) for the issue 14 route tests.

One person per language, known in FHIR (a Bundle), DICOM (a CT image and a text SR, PatientID =
MRN) and notes (JSONL and CSV with ``patient_id`` = MRN), plus inputs of nobody: a text file, a
JSONL note without ``patient_id`` and an image without PatientID. File and folder names carry the
person's name and MRN, as they often do.
"""
from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from tests.deid.test_deid_routes import EN, ZH, planted_resources

PEOPLE = {"en": EN, "zh": ZH}
PATIENT_IDS = {"en": "pt-en-1", "zh": "pt-zh-1"}
ENCOUNTER_START = "2021-03-01"  # the Encounter's period start in every bundle
STUDY_DATE = "20210301"         # the CT's StudyDate
NOTE_DATE = "2021-03-01"        # the linked JSONL note's date
UNLINKED_DATE = "2019-07-15"    # the date column of the note without a patient
CT_SOP = "1.2.826.0.1.3680043.8.498.1001"
CT_SOP_UNLINKED = "1.2.826.0.1.3680043.8.498.1002"


def planted(lang: str) -> list[str]:
    p = PEOPLE[lang]
    values = [p["name"], p["mrn"], p["phone"], p["street"], p["dob"], p["dob_text"], p["dob"].replace("-", "")]
    return values + ([EN["ssn"], p["family"], p["phone"].replace("-", "")] if lang == "en" else [])


def note_text(lang: str) -> str:
    p = PEOPLE[lang]
    if lang == "zh":
        return (f"患者{p['name']}，男，病案号{p['mrn']}，电话{p['phone']}，住址{p['street']}，出生日期{p['dob_text']}。"
                "2021年3月1日因高血压复诊，血压158/96 mmHg，继续口服赖诺普利。")
    return (f"Patient {p['name']} (MRN {p['mrn']}, SSN {EN['ssn']}), phone {p['phone']}, lives at {p['street']}, "
            f"DOB {p['dob_text']}. Seen on 03/01/2021 for hypertension follow-up; BP 158/96, continue lisinopril.")


def bundle(lang: str) -> dict:
    resources = planted_resources(PEOPLE[lang], lang == "zh")
    pid = PATIENT_IDS[lang]
    text = json.dumps(resources, ensure_ascii=False).replace('"pt-1"', json.dumps(pid)).replace(
        "Patient/pt-1", f"Patient/{pid}")
    resources = json.loads(text)
    for r in resources:
        r["id"] = f"{lang}-{r['id']}"
        if r["resourceType"] == "Patient":
            r["id"] = pid
    enc = f"Encounter/{lang}-enc-1"
    for r in resources:
        if r["resourceType"] in ("Condition", "MedicationRequest"):
            r["encounter"] = {"reference": enc}
        if r["resourceType"] == "DocumentReference":
            r["context"] = {"encounter": [{"reference": enc}]}
            r["type"] = {"coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]}
    return {"resourceType": "Bundle", "type": "collection", "id": f"{PEOPLE[lang]['mrn']}-bundle",
            "identifier": {"value": PEOPLE[lang]["mrn"]}, "timestamp": "2021-03-05T10:00:00Z",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def _meta(sop_class: str, sop: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def ct(path: Path, lang: str | None, sop: str) -> None:
    p = PEOPLE[lang] if lang else None
    ds = FileDataset(str(path), {}, file_meta=_meta("1.2.840.10008.5.1.4.1.1.2", sop), preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = sop + ".1", sop + ".2"
    if p:
        ds.PatientName = f"{p['family']}^{p['given']}"
        ds.PatientID = p["mrn"]
        ds.PatientBirthDate = p["dob"].replace("-", "")
        ds.PatientAddress = p["street"]
        ds.PatientTelephoneNumbers = p["phone"]
        ds.StudyDescription = f"CT chest {p['name']} {p['mrn']}"
        ds.SeriesDescription = f"{p['name']} call {p['phone']}"
        ds.ImageComments = f"pt lives at {p['street']}"
    else:
        ds.StudyDescription = "CT chest"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = "101500"
    ds.Modality, ds.BodyPartExamined, ds.BurnedInAnnotation = "CT", "CHEST", "NO"
    ds.SeriesNumber = ds.InstanceNumber = 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.PixelData = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 50).tobytes()
    ds.save_as(path, enforce_file_format=True)


def text_sr(path: Path, lang: str) -> None:
    p = PEOPLE[lang]
    sop = CT_SOP + (".7" if lang == "zh" else ".6")
    ds = FileDataset(str(path), {}, file_meta=_meta("1.2.840.10008.5.1.4.1.1.88.11", sop), preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.11", sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID = sop + ".1", sop + ".2"
    ds.PatientName, ds.PatientID = f"{p['family']}^{p['given']}", p["mrn"]
    ds.Modality, ds.StudyDate = "SR", STUDY_DATE
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "121071", "DCM", "Finding"
    item.ConceptNameCodeSequence = Sequence([concept])
    item.TextValue = note_text(lang)
    person = Dataset()
    person.RelationshipType, person.ValueType = "HAS OBS CONTEXT", "PNAME"
    person.PersonName = f"{p['family']}^{p['given']}"
    ds.ContentSequence = Sequence([item, person])
    ds.save_as(path, enforce_file_format=True)


def write_inputs(root: Path) -> Path:
    """The planted input tree; returns its root."""
    for lang, p in PEOPLE.items():
        person_dir = root / f"{p['name']}_{p['mrn']}"
        (person_dir / "fhir").mkdir(parents=True)
        (person_dir / "fhir" / f"{p['name']}_{p['mrn']}.json").write_text(
            json.dumps(bundle(lang), ensure_ascii=False), encoding="utf-8")
        (person_dir / "dicom").mkdir()
        ct(person_dir / "dicom" / f"{p['mrn']}_CT.dcm", lang, CT_SOP + (".5" if lang == "zh" else ""))
        text_sr(person_dir / "dicom" / f"{p['name']}_SR.dcm", lang)
        notes = person_dir / "notes"
        notes.mkdir()
        row = {"id": f"{p['mrn']}-note-1", "patient_id": p["mrn"], "language": lang, "doc_type": "clinical_note",
               "date": NOTE_DATE, "text": note_text(lang),
               "metadata": {"author": p["name"], "ward": p["street"], "callback": p["phone"], "pages": 2}}
        (notes / f"{p['mrn']}.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["id", "patient_id", "date", "text", "author"])
        w.writeheader()
        w.writerow({"id": p["mrn"] + "-csv", "patient_id": p["mrn"], "date": NOTE_DATE, "text": note_text(lang),
                    "author": p["name"]})
        (notes / f"{p['name']}.csv").write_text(buf.getvalue(), encoding="utf-8")
        (notes / f"{p['name']} {p['mrn']}.txt").write_text(note_text(lang), encoding="utf-8")
    nobody = root / "unlinked"
    nobody.mkdir()
    row = {"id": "u-1", "language": "en", "date": UNLINKED_DATE,
           "text": f"Walk-in patient. DOB {EN['dob_text']}. Admitted 07/15/2019, discharged 07/18/2019."}
    (nobody / "walk_in.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    ct(nobody / "anonymous_ct.dcm", None, CT_SOP_UNLINKED)
    return root


OLD = {"name": "Hortensia Pemberton", "family": "Pemberton", "given": "Hortensia", "mrn": "MRN-1925-0302",
       "phone": "617-555-0177", "street": "7 Quarry Hill Road", "dob": "1925-03-02", "dob_text": "03/02/1925"}


def old_patient_bundle() -> dict:
    """A patient aged 95 at her last encounter, with a note that states her birth date and year."""
    pid = "pt-old-1"
    ref = {"reference": f"Patient/{pid}"}
    note = (f"{OLD['name']} is a 95-year-old woman, born in 1925 (DOB {OLD['dob_text']}), seen on 06/01/2020 "
            "for hypertension; BP 150/90, continue amlodipine.")
    resources = [
        {"resourceType": "Patient", "id": pid, "name": [{"family": OLD["family"], "given": [OLD["given"]]}],
         "identifier": [{"system": "urn:mrn", "value": OLD["mrn"]}], "birthDate": OLD["dob"], "gender": "female"},
        {"resourceType": "Encounter", "id": "old-enc", "status": "finished", "subject": ref,
         "period": {"start": "2020-06-01T09:00:00Z", "end": "2020-06-01T10:00:00Z"}},
        {"resourceType": "Condition", "id": "old-c", "subject": ref, "encounter": {"reference": "Encounter/old-enc"},
         "recordedDate": "2020-06-01", "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                            "code": "I10", "display": "Essential hypertension"}]}},
        {"resourceType": "DocumentReference", "id": "old-doc", "status": "current", "subject": ref,
         "date": "2020-06-01T10:00:00Z", "context": {"encounter": [{"reference": "Encounter/old-enc"}]},
         "content": [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(note.encode()).decode()}}]},
    ]
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def write_build_inputs(root: Path) -> dict[str, Path]:
    """The planted inputs for ``build``, by source kind, under neutral file names (file names in side
    files are another route)."""
    dirs = {k: root / k for k in ("fhir", "dicom", "text")}
    for d in dirs.values():
        d.mkdir(parents=True)
    for lang, p in PEOPLE.items():
        (dirs["fhir"] / f"{lang}.json").write_text(json.dumps(bundle(lang), ensure_ascii=False), encoding="utf-8")
        ct(dirs["dicom"] / f"{lang}_ct.dcm", lang, CT_SOP + (".5" if lang == "zh" else ""))
        row = {"id": f"{lang}-note-1", "patient_id": p["mrn"], "language": lang, "doc_type": "clinical_note",
               "date": NOTE_DATE, "text": note_text(lang)}
        (dirs["text"] / f"{lang}.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        (dirs["text"] / f"{lang}_unlinked.txt").write_text(note_text(lang), encoding="utf-8")
    (dirs["fhir"] / "old.json").write_text(json.dumps(old_patient_bundle()), encoding="utf-8")
    row = {"id": "u-1", "language": "en", "doc_type": "clinical_note", "date": UNLINKED_DATE,
           "text": f"Walk-in patient. DOB {EN['dob_text']}. Admitted 07/15/2019, discharged 07/18/2019 after "
                   "treatment of community-acquired pneumonia with amoxicillin."}
    (dirs["text"] / "walk_in.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return dirs


def output_strings(out: Path) -> str:
    """Every output file's content (gzip and base64 attachments decoded) and every path, as one text."""
    import gzip

    parts = []
    for f in sorted(out.rglob("*")):
        parts.append(str(f.relative_to(out)))
        if not f.is_file():
            continue
        data = f.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            text = json.dumps(pq.read_table(f).to_pylist(), default=lambda b: "", ensure_ascii=False)
        else:
            text = data.decode("utf-8", "replace")
        parts.append(text)
        for chunk in _base64_chunks(text):
            parts.append(chunk)
    return "\n".join(parts)


def _base64_chunks(text: str):
    import re

    for m in re.finditer(r'"data"\s*:\s*"([A-Za-z0-9+/=]{8,})"', text):
        try:
            yield base64.b64decode(m[1]).decode("utf-8", "replace")
        except ValueError:
            continue
