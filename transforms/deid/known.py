"""The known PHI of one person, gathered from every modality of their record.

The text de-identifier looks for a patient's own identifiers in all their surface forms
(``transforms.deid.text.KnownPHI``). They come from the FHIR Patient and from the DICOM headers
of the same person (PatientName, PatientID, other IDs, address, telephone, birth date), so a note
linked only through an image, or an image description naming the patient, is matched too. A
patient over the age cap is marked (``over_89``) so the detector can remove every birth date and
birth year of theirs, not only the structured one.
"""
from __future__ import annotations

import dataclasses
import datetime as dt


def _dicom_dataset(blob):
    from transforms.io.dicom_read import DicomReadError, read_dataset

    if not isinstance(blob, (bytes, bytearray)):
        return blob
    try:
        return read_dataset(bytes(blob), headers_only=True)
    except DicomReadError:
        return None


def _values(value) -> list:
    from collections.abc import Sequence

    if value in (None, ""):
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [v for v in value if v not in (None, "")]
    return [value]


def patient_like_from_dicom(ds) -> dict:
    """A FHIR-Patient-shaped dict of the identifying attributes of a DICOM header."""
    def s(name):
        value = ds.get(name) if ds is not None else None
        return str(value).strip() if value not in (None, "") else ""

    patient: dict = {"resourceType": "Patient"}
    names = []
    for attr in ("PatientName", "OtherPatientNames", "PatientMotherBirthName", "ResponsiblePerson"):
        for pn in _values(ds.get(attr) if ds is not None else None):
            family, _, given = str(pn).partition("^")
            given_parts = [g for g in given.replace("^", " ").split() if g]
            if family.strip() or given_parts:
                names.append({"family": family.strip(), "given": given_parts})
    if names:
        patient["name"] = names
    ids = [s("PatientID")] + [str(v).strip() for v in _values(ds.get("OtherPatientIDs") if ds is not None else None)]
    patient["identifier"] = [{"value": v} for v in ids if v]
    if s("PatientTelephoneNumbers"):
        patient["telecom"] = [{"system": "phone", "value": s("PatientTelephoneNumbers")}]
    if s("PatientAddress"):
        patient["address"] = [{"line": [s("PatientAddress")]}]
    birth = s("PatientBirthDate")
    if len(birth) == 8 and birth.isdigit():
        patient["birthDate"] = f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"
    return patient


def dicom_over_age(ds, cap: int = 89) -> bool:
    """PatientAge over the cap (``093Y``), or birth date and study date more than cap years apart."""
    if ds is None:
        return False
    age = str(ds.get("PatientAge", "") or "").strip().upper()
    if len(age) == 4 and age[:3].isdigit() and age[3] == "Y" and int(age[:3]) > cap:
        return True
    birth, study = str(ds.get("PatientBirthDate", "") or ""), str(ds.get("StudyDate", "") or "")
    try:
        b = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        d = dt.date(int(study[:4]), int(study[4:6]), int(study[6:8]))
    except ValueError:
        return False
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day)) > cap


def merge_known(*items):
    """One KnownPHI holding every value of the given ones (None entries skipped)."""
    items = [k for k in items if k is not None]
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    merged = dataclasses.replace(items[0])
    for f in dataclasses.fields(merged):
        values = [getattr(k, f.name) for k in items]
        if all(isinstance(v, list) for v in values):
            setattr(merged, f.name, sorted({x for v in values for x in v}, key=str))
        elif all(isinstance(v, bool) for v in values):
            setattr(merged, f.name, any(values))
        else:
            setattr(merged, f.name, next((v for v in values if v), values[0]))
    return merged


def mark_over_age_cap(known, birth_date: str | None = None):
    """Tell the detector that this patient is over the age cap (fields present in this release only)."""
    if known is None:
        return None
    names = {f.name for f in dataclasses.fields(known)}
    if "over_89" in names:
        known.over_89 = True
    if birth_date and "birth_date" in names and not getattr(known, "birth_date", None):
        current = getattr(known, "birth_date")
        known.birth_date = [birth_date] if isinstance(current, list) else birth_date
    if birth_date and birth_date not in known.dates:
        known.dates.append(birth_date)
    return known


def over_age_at(patient: dict | None, latest: str | None, cap: int = 89) -> bool:
    """A patient older than ``cap`` at the date ``latest`` (ISO), from their birthDate."""
    birth = (patient or {}).get("birthDate")
    try:
        b = dt.date.fromisoformat(str(birth)[:10])
        d = dt.date.fromisoformat(str(latest)[:10])
    except (TypeError, ValueError):
        return False
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day)) > cap


def known_phi_for_patient(patient: dict | None, over: bool = False, dicom_datasets=(), cap: int = 89):
    """KnownPHI of a FHIR Patient (or None) and DICOM headers, marked when over the age cap."""
    from transforms.deid.text import known_phi_from_patient_resource

    parts = [known_phi_from_patient_resource(patient)] if patient else []
    birth = patient.get("birthDate") if patient and isinstance(patient.get("birthDate"), str) else None
    for ds in dicom_datasets or ():
        if ds is None:
            continue
        like = patient_like_from_dicom(ds)
        if len(like) > 2 or like.get("identifier"):
            parts.append(known_phi_from_patient_resource(like))
        if dicom_over_age(ds, cap):
            over = True
            birth = birth or like.get("birthDate")
    known = merge_known(*parts)
    return mark_over_age_cap(known, birth) if over else known


def known_phi_for_record(resources: list[dict], patient: dict | None, dicom_blobs=(), fhir_policy: dict | None = None,
                         over: bool | None = None):
    """KnownPHI of one patient record: FHIR Patient + the headers of their DICOM instances. ``over``: whether
    the patient is over the age cap, when the caller already knows (``over_age_cap(resources, patient, ...)``)."""
    from transforms.deid.fhir_deid import over_age_cap

    from transforms.deid.text.known import clinical_terms_from_resources

    cap = int((fhir_policy or {}).get("age_cap", 89))
    if over is None:
        over = bool(patient) and over_age_cap(resources, patient, fhir_policy)
    known = known_phi_for_patient(patient, over, [_dicom_dataset(b) for b in dicom_blobs or ()], cap)
    if known is not None:
        known.clinical_terms = clinical_terms_from_resources(resources)  # never replaced in this patient's notes
    return known
