"""Build the bundled sample's DICOM studies (run once; the output is committed).

For every sample patient with a FHIR ImagingStudy, write the study's first instance as a Part 10
file whose PatientID is the patient's MRN, PatientName their FHIR name, and whose Study/Series/SOP
Instance UIDs are the ImagingStudy's, with realistic *fake* PHI in the institution, physician,
operator, station and accession attributes. Pixels are reused from pydicom's own test files
(downsampled). Extras show the edge cases: a multi-frame series, a MONOCHROME1 image, an
ultrasound still without BurnedInAnnotation (quarantined by default), a file without extension
and a non-DICOM file in the tree (rejected).

    python -m pipelines.sample.build_dicom
"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SAMPLE = Path(__file__).resolve().parent / "data"
OUT = SAMPLE / "dicom"
TEST_FILES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
SOP_CLASS = {"DX": "1.2.840.10008.5.1.4.1.1.1.1", "CT": "1.2.840.10008.5.1.4.1.1.2",
             "MR": "1.2.840.10008.5.1.4.1.1.4", "US": "1.2.840.10008.5.1.4.1.1.6.1"}
FAKE = [  # institution, referring physician, operator, station, accession
    ("Riverside Dental Imaging Center", "Nguyen^Anna", "Park^Lee", "DXR-STATION-07", "ACC20221104001"),
    ("Sunset Valley Dental Group", "Okafor^Chidi", "Reyes^Maria", "BITEWING-2", "ACC20190311007"),
    ("Coastal Family Dentistry", "Schmidt^Hans", "Kim^Soo", "XRAY-ROOM-3", "ACC20200615012"),
    ("Golden Bear Oral Health", "Patel^Ravi", "Brown^Tom", "DX-UNIT-11", "ACC20210720031"),
    ("Mission Bay Radiology", "Lopez^Elena", "Wu^Jing", "MBR-DX-1", "ACC20230102044"),
    ("Redwood Clinic Imaging", "Haddad^Omar", "Jones^Amy", "RCI-PORTABLE", "ACC20180909058"),
]


def _pixels(name: str, size: int = 96) -> tuple[np.ndarray, pydicom.Dataset]:
    src = pydicom.dcmread(TEST_FILES / name)
    arr = src.pixel_array
    if arr.ndim == 3 and int(src.get("SamplesPerPixel", 1)) == 1:
        frames = arr
    else:
        frames = arr[None, ...]
    step = max(1, frames.shape[1] // size)
    return frames[:, ::step, ::step].copy(), src


def _dataset(path: Path, meta_sop: str, modality: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASS[modality]
    meta.MediaStorageSOPInstanceUID = meta_sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    return ds


def write_instance(path: Path, *, patient: dict, study_uid: str, series_uid: str, sop_uid: str, modality: str,
                   date: str, fake: tuple, pixels_from: str, description: str, burned_in: str | None = "NO",
                   monochrome1: bool = False, frames: int = 1) -> None:
    name = next(n for n in patient["name"] if n.get("use", "official") == "official")
    mrn = next(i["value"] for i in patient["identifier"]
               if any(c.get("code") == "MR" for c in (i.get("type") or {}).get("coding", [])))
    arr, src = _pixels(pixels_from)
    arr = arr[:frames]
    ds = _dataset(path, sop_uid, modality)
    ds.SOPClassUID = SOP_CLASS[modality]
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = f"{name['family']}^{' '.join(name.get('given', []))}"
    ds.PatientID = mrn
    ds.PatientBirthDate = patient["birthDate"].replace("-", "")
    ds.PatientSex = {"male": "M", "female": "F"}.get(patient.get("gender"), "O")
    ds.PatientAddress = " ".join(patient.get("address", [{}])[0].get("line", []))
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = "101500"
    ds.AccessionNumber = fake[4]
    ds.InstitutionName = fake[0]
    ds.InstitutionAddress = "1200 Harbor Blvd, San Diego, CA 92101"
    ds.ReferringPhysicianName = fake[1]
    ds.OperatorsName = fake[2]
    ds.StationName = fake[3]
    ds.StudyDescription = description
    ds.SeriesDescription = description
    ds.StudyID = fake[4][-4:]
    ds.Modality = modality
    ds.BodyPartExamined = "JAW" if modality == "DX" else ("CHEST" if modality == "CT" else "ABDOMEN")
    ds.Manufacturer = "Acme Imaging"
    ds.ManufacturerModelName = "Model-X"
    ds.DeviceSerialNumber = "SN-4471-" + fake[4][-3:]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    spp = int(src.get("SamplesPerPixel", 1))
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = "RGB" if spp == 3 else ("MONOCHROME1" if monochrome1 else "MONOCHROME2")
    if spp == 3:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsAllocated - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = (arr if frames > 1 else arr[0]).tobytes()
    if spp == 1:
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.save_as(path, enforce_file_format=True)


#: Chest CTs of the two patients known only from their radiology reports (text notes en-003 and zh-004):
#: the study date is the report's date, so the image is paired with its real report.
REPORT_STUDIES = [
    ({"name": [{"family": "Okafor", "given": ["Grace"]}], "gender": "female", "birthDate": "1957-09-30",
      "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "EXT-5502"}],
      "address": [{"line": ["77 Bayview Terrace"]}]}, "20220421", "CT chest without contrast", "study07/IM0007"),
    ({"name": [{"family": "Liu", "given": ["Qiang"]}], "gender": "male", "birthDate": "1961-02-14",
      "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "HIS-100203"}],
      "address": [{"line": ["Wenyi Road 18"]}]}, "20220413", "Chest CT plain scan", "study08/IM0008.dcm"),
]


def write_report_studies() -> None:
    for i, (patient, date, description, rel) in enumerate(REPORT_STUDIES):
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        uid = generate_uid(entropy_srcs=["medcorpus-sample-report-study", rel])
        write_instance(path, patient=patient, study_uid=uid, series_uid=generate_uid(entropy_srcs=[uid, "series"]),
                       sop_uid=generate_uid(entropy_srcs=[uid, "instance"]), modality="CT", date=date,
                       fake=FAKE[(i + 4) % len(FAKE)], pixels_from="CT_small.dcm", description=description)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    studies = []
    for f in sorted((SAMPLE / "fhir" / "synthea").glob("*.json.gz")):
        bundle = json.loads(gzip.decompress(f.read_bytes()))
        resources = [e["resource"] for e in bundle["entry"]]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        for r in resources:
            if r["resourceType"] == "ImagingStudy":
                studies.append((patient, r))
    pixel_sources = ["CT_small.dcm", "MR_small.dcm", "CT_small.dcm", "MR_small.dcm", "CT_small.dcm", "rtdose.dcm"]
    for i, (patient, study) in enumerate(studies):
        uid = study["identifier"][0]["value"].replace("urn:oid:", "")
        series = study["series"][0]
        inst = series["instance"][0]
        folder = OUT / f"study{i + 1:02d}"
        folder.mkdir()
        name = f"IM{i + 1:04d}" if i % 2 == 0 else f"IM{i + 1:04d}.dcm"  # real DICOM often has no extension
        write_instance(folder / name, patient=patient, study_uid=uid, series_uid=series["uid"],
                       sop_uid=inst["uid"], modality=series["modality"]["code"],
                       date=study["started"][:10].replace("-", ""), fake=FAKE[i % len(FAKE)],
                       pixels_from=pixel_sources[i % len(pixel_sources)],
                       description=study["procedureCode"][0].get("text", "Imaging study"),
                       monochrome1=(i == 1), frames=(3 if pixel_sources[i % 6] == "rtdose.dcm" else 1))
        if i == 0:  # an ultrasound still with no BurnedInAnnotation: quarantined by default
            write_instance(folder / "US0001", patient=patient, study_uid=uid,
                           series_uid=generate_uid(entropy_srcs=[uid, "us"]),
                           sop_uid=generate_uid(entropy_srcs=[uid, "us", "1"]), modality="US",
                           date=study["started"][:10].replace("-", ""), fake=FAKE[0],
                           pixels_from="SC_rgb_rle.dcm", description="Ultrasound still", burned_in=None)
    write_report_studies()
    (OUT / "study01" / "README.txt").write_text("Not a DICOM file: the ingest stage must reject it with a reason.\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {sum(1 for p in OUT.rglob('*') if p.is_file())} files, {total} bytes to {OUT}")


if __name__ == "__main__":
    main()
