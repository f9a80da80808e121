"""Read DICOM bytes: Part 10 files, files without the preamble, with or without pixels, zip archives.

Every failure is a ``DicomReadError(kind, message)`` whose message describes the problem without
quoting any value from the file. Kinds: ``not_dicom``, ``truncated``, ``unreadable``,
``dicomdir_index`` (a DICOMDIR lists files; it is not an instance), ``bad_zip``.
"""
from __future__ import annotations

import io
import warnings
import zipfile
from typing import Iterator

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian, \
    ImplicitVRLittleEndian

UNDEFINED_LENGTH = 0xFFFFFFFF
# Groups a preamble-less object may plausibly start with (file meta, identification, patient, study).
_FIRST_GROUPS = (0x0002, 0x0008, 0x0010, 0x0020)


class DicomReadError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def sniff_dicom(head: bytes) -> bool:
    """True for a Part 10 preamble (``DICM`` at 128) or a plausible preamble-less start.

    Preamble-less: the first element is (0002|0008|0010|0020, eeee) little endian, followed either
    by a two-letter explicit VR or by a 4-byte implicit length that fits in the data.
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    if group not in _FIRST_GROUPS:
        return False
    vr = head[4:6]
    if vr.isalpha() and vr.isupper():
        return True
    length = int.from_bytes(head[4:8], "little")
    return length < 0x10000  # implicit VR: a short first value (group lengths, UIDs, CS values)


def _check_lengths(ds: pydicom.Dataset, size: int) -> None:
    """Top-level element values that run past the end of the data mean the file was cut short."""
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax == DeflatedExplicitVRLittleEndian:
        return  # offsets refer to the inflated stream
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and raw.length != UNDEFINED_LENGTH and raw.value_tell is not None:
            if raw.value_tell + raw.length > size:
                raise DicomReadError("truncated", "an element value runs past the end of the data "
                                                  "(file cut short)")


def _repair_transfer_syntax(ds: pydicom.Dataset) -> None:
    """Preamble-less objects have no file meta: record the encoding they were read with."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        ds.file_meta = meta = pydicom.dataset.FileMetaDataset()
    if "TransferSyntaxUID" in meta:
        return
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        implicit, little = True, True
    meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit else
                              ExplicitVRLittleEndian if little else ExplicitVRBigEndian)


def read_dataset(data: bytes, *, headers_only: bool) -> pydicom.Dataset:
    """Parse one DICOM object; ``headers_only`` stops before the pixel data.

    Every element (sequences included) is decoded here, so malformed values fail now with a kind
    rather than later in the de-identifier.
    """
    if not sniff_dicom(data[:132]):
        raise DicomReadError("not_dicom", "no DICOM preamble and no DICOM element at the start")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on odd values; they are not PHI-relevant
            ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=headers_only)
            _check_lengths(ds, len(data))
            for _ in ds.iterall():  # touch every element so malformed values surface here
                pass
    except DicomReadError:
        raise
    except InvalidDicomError:
        raise DicomReadError("not_dicom", "pydicom does not recognise this as DICOM") from None
    except EOFError:
        raise DicomReadError("truncated", "the data ends inside an element") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError, OverflowError, NotImplementedError,
            AttributeError, UnicodeDecodeError, LookupError, RecursionError) as exc:
        raise DicomReadError("unreadable", f"malformed DICOM ({type(exc).__name__})") from None
    if "DirectoryRecordSequence" in ds:
        raise DicomReadError("dicomdir_index", "DICOMDIR index, not an instance: the files it lists are read "
                                               "from the directory tree")
    if "SOPInstanceUID" not in ds and "StudyInstanceUID" not in ds and "Modality" not in ds:
        raise DicomReadError("not_dicom", "no SOP Instance UID, Study Instance UID or Modality")
    _repair_transfer_syntax(ds)
    return ds


def list_zip_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """``(position, bytes)`` for each file member of a zip archive, in name order; positions are
    ``"member <i>"`` (member names can carry PHI, so they are not used). Non-DICOM members are
    yielded too: ``read_dataset`` rejects them with ``not_dicom``.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
            members = [(f"member {n}", zf.read(info)) for n, info in enumerate(infos)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
        raise DicomReadError("bad_zip", "unreadable or encrypted zip archive") from None
    yield from members


def instance_summary(ds: pydicom.Dataset) -> dict:
    """Raw header facts used for linking and grouping (PHI: never written as is)."""
    def s(name):
        value = ds.get(name)
        return str(value).strip() if value is not None else ""

    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        frames = 1
    return {
        "PatientID": s("PatientID"),
        "StudyInstanceUID": s("StudyInstanceUID"),
        "SeriesInstanceUID": s("SeriesInstanceUID"),
        "SOPInstanceUID": s("SOPInstanceUID"),
        "Modality": s("Modality"),
        "BodyPartExamined": s("BodyPartExamined"),
        "SeriesDescription": s("SeriesDescription"),
        "StudyDate": s("StudyDate"),
        "NumberOfFrames": frames,
        "TransferSyntaxUID": str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or ""),
    }
