"""DICOM on real files: every file is read or rejected with a kind; the PS3.15 table is applied
action by action; no PHI string survives in the output bytes; burned-in images are quarantined."""
from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest

from transforms.deid.burned_in import burned_in_risk
from transforms.deid.dicom_audit import audit_actions
from transforms.deid.dicom_profile import DicomPolicy, deidentify_dataset, table_row
from transforms.deid.keys import keyed_uid
from transforms.io.dicom_read import DicomReadError, read_dataset
from transforms.io.dicom_render import PixelDecodeError, render_png

SECRET = b"test-secret-0123456789"
PYDICOM_FILES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"


def _site(name: str) -> Path | None:
    try:
        mod = __import__(name)
    except ImportError:
        return None
    return Path(mod.__file__).resolve().parent


def real_files() -> list[Path]:
    files = [p for p in PYDICOM_FILES.rglob("*") if p.is_file()]
    for pkg in ("data_store", "deid_data"):
        base = _site(pkg)
        if base:
            files += [p for p in base.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc", ".md")]
    return sorted(files)


def _deid(ds, policy=None):
    return deidentify_dataset(ds, patient_pseudonym="pk-test", date_shift_days=-30,
                              uid_map=lambda u: keyed_uid(SECRET, u), text_deid=lambda s: "CLEANED",
                              policy=policy or DicomPolicy())


def test_every_real_file_is_read_or_rejected_with_a_kind():
    files = real_files()
    assert len(files) > 200
    outcomes = {"read": 0, "rejected": 0, "rendered": 0, "pixel_rejected": 0}
    for f in files:
        try:
            ds = read_dataset(f.read_bytes(), headers_only=False)
        except DicomReadError as exc:
            assert exc.kind and exc.message
            outcomes["rejected"] += 1
            continue
        outcomes["read"] += 1
        try:
            assert render_png(ds)[:8] == b"\x89PNG\r\n\x1a\n"
            outcomes["rendered"] += 1
        except PixelDecodeError as exc:
            assert exc.kind
            outcomes["pixel_rejected"] += 1
    assert outcomes["read"] > 180 and outcomes["rendered"] > 100, outcomes


def _phi_strings(ds) -> set[str]:
    names = ["PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
             "StationName", "OperatorsName", "AccessionNumber", "ReferringPhysicianName", "PerformingPhysicianName",
             "OtherPatientIDs", "PatientAddress", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"]
    out = set()
    for n in names:
        v = ds.get(n)
        if v is not None and len(str(v).strip()) >= 4:
            out.add(str(v).strip())
    return out


@pytest.mark.parametrize("path", [p for p in real_files() if p.suffix.lower() in (".dcm", "")][:120],
                         ids=lambda p: p.name)
def test_table_actions_and_no_phi_in_output_bytes(path):
    try:
        ds = read_dataset(path.read_bytes(), headers_only=False)
    except DicomReadError:
        pytest.skip("not a readable DICOM file (rejected with a kind elsewhere)")
    original = read_dataset(path.read_bytes(), headers_only=False)
    phi = _phi_strings(ds)
    # values the profile keeps elsewhere (e.g. a station named after its Manufacturer) are not PHI there
    kept = {str(e.value).strip() for e in ds.iterall() if e.VR in ("LO", "SH", "CS", "PN", "ST", "LT")
            and table_row(int(e.tag)) is None and not e.tag.is_private}
    phi = {v for v in phi if v not in kept and not any(v in k for k in kept)}
    phi = {v for v in phi if not (v.isdigit() and len(v) < 8)}  # short numbers occur inside any keyed UID
    policy = DicomPolicy()
    result = _deid(ds, policy)
    out_ds = result.dataset
    right, total, wrong = audit_actions(original, out_ds, policy)
    assert right == total, wrong[:5]
    assert not any(e.tag.is_private for e in out_ds)
    assert out_ds.PatientIdentityRemoved == "YES"
    buf = io.BytesIO()
    out_ds.save_as(buf, enforce_file_format=False)
    pydicom.dcmread(io.BytesIO(buf.getvalue()), force=True)
    for tag in [t for t in out_ds.keys() if (t >> 16) in (0x7FE0, 0x6000) or t == 0x7FE00010]:
        del out_ds[tag]  # pixel and overlay bits can contain any byte string by chance
    header = io.BytesIO()
    out_ds.save_as(header, enforce_file_format=False)
    data = header.getvalue()
    for value in phi:
        assert value.encode("latin-1", "ignore") not in data, "a PHI attribute value survived"


def test_uids_map_consistently_within_a_study():
    ds1 = read_dataset((PYDICOM_FILES / "CT_small.dcm").read_bytes(), headers_only=True)
    ds2 = read_dataset((PYDICOM_FILES / "CT_small.dcm").read_bytes(), headers_only=True)
    study, series = ds1.StudyInstanceUID, ds1.SeriesInstanceUID
    a, b = _deid(ds1).dataset, _deid(ds2).dataset
    assert a.StudyInstanceUID == b.StudyInstanceUID == keyed_uid(SECRET, study)
    assert a.SeriesInstanceUID == keyed_uid(SECRET, series) and a.StudyInstanceUID.startswith("2.25.")


def test_dates_are_shifted_by_the_patient_offset():
    ds = read_dataset((PYDICOM_FILES / "CT_small.dcm").read_bytes(), headers_only=True)
    before = ds.StudyDate
    out = _deid(ds).dataset
    import datetime as dt

    d0 = dt.datetime.strptime(before, "%Y%m%d").date()
    assert out.StudyDate == (d0 - dt.timedelta(days=30)).strftime("%Y%m%d")
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    assert codes[0] == "113100" and "113107" in codes and "113105" in codes


def test_ultrasound_stills_with_burned_in_text_are_quarantined_including_the_untagged_one():
    base = _site("deid_data")
    if not base:
        pytest.skip("deid-data is not installed")
    us = sorted((base / "data" / "ultrasounds").glob("*.dcm"))
    assert len(us) >= 3
    policy = DicomPolicy()
    for f in us:
        ds = read_dataset(f.read_bytes(), headers_only=True)
        assert burned_in_risk(ds, policy), f.name
    untagged = [f for f in us if "BurnedInAnnotation" not in read_dataset(f.read_bytes(), headers_only=True)]
    assert untagged, "deid-data ships an ultrasound without the tag"


def test_ultrasound_without_flag_is_released_by_a_matching_pixel_clean_rule():
    base = _site("deid_data")
    if not base:
        pytest.skip("deid-data is not installed")
    f = base / "data" / "ultrasounds" / "RGB_IMAGE.dcm"
    ds = read_dataset(f.read_bytes(), headers_only=False)
    rule = {"modality": "US", "rows": int(ds.Rows), "columns": int(ds.Columns), "rectangles": [[0, 0, 200, 60]]}
    assert burned_in_risk(ds, DicomPolicy(pixel_clean_rules=[rule])) is None
    assert int(ds.pixel_array[:60, :200].max()) == 0


def test_the_audit_catches_an_attribute_left_in_place():
    original = read_dataset((PYDICOM_FILES / "CT_small.dcm").read_bytes(), headers_only=True)
    ds = read_dataset((PYDICOM_FILES / "CT_small.dcm").read_bytes(), headers_only=True)
    out = _deid(ds).dataset
    out.InstitutionName = original.InstitutionName  # undo one action
    right, total, wrong = audit_actions(original, out, DicomPolicy())
    assert right == total - 1 and wrong == ["Institution Name (X/Z/D)"]


def test_retain_uids_option_keeps_uids():
    ds = read_dataset((PYDICOM_FILES / "CT_small.dcm").read_bytes(), headers_only=True)
    uid = ds.StudyInstanceUID
    out = _deid(ds, DicomPolicy(retain_uids=True)).dataset
    assert out.StudyInstanceUID == uid
    assert "113110" in [i.CodeValue for i in out.DeidentificationMethodCodeSequence]


def test_dicomdir_and_zip_archives_are_handled():
    import zipfile

    from transforms.io.read import ReadFile

    dicomdir = next(PYDICOM_FILES.rglob("DICOMDIR"))
    with pytest.raises(DicomReadError) as exc:
        read_dataset(dicomdir.read_bytes(), headers_only=True)
    assert exc.value.kind == "dicomdir_index"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("study/IM1", (PYDICOM_FILES / "CT_small.dcm").read_bytes())
        zf.writestr("study/notes.txt", b"not dicom")
    reader = ReadFile({"fhir": {"version": "R4", "mode": "lenient"}, "text": {"csv_text_column": "text"},
                       "limits": {"max_file_mb": 10}})
    items = list(reader._dicom(buf.getvalue(), {"source": "dicom:archive.zip", "kind": "dicom"}))
    assert [i.get("error_kind") for i in items if i.get("reject")] == ["not_dicom"]
    assert [i["position"] for i in items if not i.get("reject")] == ["member 0"]
