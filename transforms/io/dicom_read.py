"""Read DICOM bytes: Part 10 files, files without the preamble, with or without pixels."""
from __future__ import annotations

import io
import warnings

import pydicom
from pydicom.errors import InvalidDicomError


class DicomReadError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def sniff_dicom(head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    # preamble-less: starts with a group 0002 or 0008 element, little endian
    return len(head) >= 8 and head[1:2] == b"\x00" and head[0:1] in (b"\x02", b"\x08") and head[3:4] == b"\x00"


def read_dataset(data: bytes, *, headers_only: bool) -> pydicom.Dataset:
    if not sniff_dicom(data[:132]):
        raise DicomReadError("not_dicom", "no DICOM preamble and no DICOM element at the start")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on odd values; they are not PHI-relevant
            ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=headers_only)
            # touch every element so truncated or malformed values surface here, not later
            for _ in ds.iterall():
                pass
    except InvalidDicomError:
        raise DicomReadError("not_dicom", "pydicom does not recognise this as DICOM") from None
    except (EOFError, OSError, ValueError, KeyError, IndexError, TypeError, OverflowError, NotImplementedError,
            AttributeError, UnicodeDecodeError, LookupError) as exc:
        raise DicomReadError("unreadable", f"malformed or truncated DICOM ({type(exc).__name__})") from None
    if "DirectoryRecordSequence" in ds:
        raise DicomReadError("dicomdir_index", "DICOMDIR index, not an instance: the files it lists are read "
                                               "from the directory tree")
    if "SOPInstanceUID" not in ds and "StudyInstanceUID" not in ds and "Modality" not in ds:
        raise DicomReadError("not_dicom", "no SOP Instance UID, Study Instance UID or Modality")
    return ds


def instance_summary(ds: pydicom.Dataset) -> dict:
    """Raw header facts used for linking and grouping (PHI: never written as is)."""
    def s(name):
        value = ds.get(name)
        return str(value).strip() if value is not None else ""

    return {
        "PatientID": s("PatientID"),
        "StudyInstanceUID": s("StudyInstanceUID"),
        "SeriesInstanceUID": s("SeriesInstanceUID"),
        "SOPInstanceUID": s("SOPInstanceUID"),
        "Modality": s("Modality"),
        "BodyPartExamined": s("BodyPartExamined"),
        "SeriesDescription": s("SeriesDescription"),
        "StudyDate": s("StudyDate"),
        "NumberOfFrames": int(ds.get("NumberOfFrames", 1) or 1),
        "TransferSyntaxUID": str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or ""),
    }
