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


def dicom_members(data: bytes, limits) -> list[tuple[str, bytes]]:
    """``(position, bytes)`` of the DICOM objects in a file: itself, a gzip, or the members of a zip,
    decompressed under the limits (``transforms.io.archive``: ``LimitExceeded`` / ``BadArchive``)."""
    from transforms.io.archive import gunzip, is_gzip, is_zip, zip_members

    if is_zip(data):
        return [(position, blob) for position, _, blob in zip_members(data, limits)]
    if is_gzip(data):
        return [("file", gunzip(data, limits))]
    return [("file", data)]


def iter_dicom_units(data: bytes, source: str, limits):
    """DICOM units (headers read, pixels left as bytes) or reject dicts of one file."""
    from transforms.io.archive import BadArchive
    from transforms.io.limits import LimitExceeded

    try:
        members = dicom_members(data, limits)
    except (LimitExceeded, BadArchive) as exc:
        yield {"reject": True, "position": "file", "error_kind": exc.kind, "message": exc.message}
        return
    for position, blob in members:
        try:
            ds = read_dataset(blob, headers_only=True)
            summary = instance_summary(ds)
        except DicomReadError as exc:
            yield {"reject": True, "position": position, "error_kind": exc.kind, "message": exc.message}
            continue
        if not summary.get("SOPInstanceUID") or not summary.get("StudyInstanceUID"):
            yield {"reject": True, "position": position, "error_kind": "missing_uid",
                   "message": "DICOM object without StudyInstanceUID or SOPInstanceUID"}
            continue
        yield {"kind": "dicom", "source": source, "position": position, "data": blob,
               "link_id": summary.get("PatientID") or None,
               "study_uid": summary["StudyInstanceUID"], "series_uid": summary.get("SeriesInstanceUID") or "",
               "sop_uid": summary["SOPInstanceUID"]}
