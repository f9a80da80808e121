"""The leak gate over the files ``medcorpus deid`` writes: de-identified copies in their own formats.

The same matcher as the corpus gate (``leak_gate.Matcher``: the residual-PHI patterns of
``leak_scan``, the planted canaries, the input files' relative paths and identifier-like stems,
the absolute input roots) and, like it, independent of the de-identifier: nothing here comes from
``transforms/deid``. It reads every file under the output directory as a recipient gets it:

* text-like files (FHIR JSON and NDJSON, JSONL, CSV, text; gzipped ones unpacked): by line;
* DICOM files (gzipped ones unpacked): the value of every string element (names, descriptions,
  codes, dates, numbers as text, SR text), in nested sequences and the file meta too. UIDs are
  checked for canaries only: deid writes keyed ``2.25.<integer>`` UIDs, whose long digit runs the
  number patterns would misread as phone or ID numbers. Pixel data and binary values are not read
  (deid screens pixels with OCR itself); a DICOM file that cannot be parsed fails the gate;
* every file's relative name.

The result names files (by their keyed output names), kinds and counts, never a matched value.
"""
from __future__ import annotations

import gzip
import io
import logging
import re
import warnings
from collections import Counter
from pathlib import Path

from transforms.quality.leak_gate import Matcher, name_canaries, scan_text_bytes

_DIGIT_RUN = re.compile(r"\d{5,}")
#: DICOM value representations that hold text (PS3.5 6.2); UI is checked for canaries only
TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR", "UT"}


def carries_identifier(name: str) -> bool:
    """Whether an input file's name looks like it carries an identifier: a run of five or more digits
    (record and accession numbers, dates, UUIDs) or non-Latin letters (a name in Chinese script).

    Generic names (``CT_small.dcm``, ``JPEG2000.dcm``, ``IM0001``) are not canaries: documentation and
    guidelines among the inputs rightly cite them (pydicom's test-file README lists 37 of them)."""
    stem = name.rsplit("/", 1)[-1]
    return bool(_DIGIT_RUN.search(stem)) or any(ord(c) > 0x2E80 for c in stem)


def _is_dicom(data: bytes, name: str) -> bool:
    return data[128:132] == b"DICM" or name.endswith(".dcm")


def _value_text(value) -> str:
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return "" if value is None else str(value)


def dicom_strings(data: bytes):
    """(VR, text) of every string element of a DICOM file, nested sequences and file meta included."""
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)  # some have no preamble
    datasets = [ds.file_meta] if getattr(ds, "file_meta", None) is not None else []
    for dataset in datasets + [ds]:
        for elem in dataset.iterall():
            if elem.VR in TEXT_VRS or elem.VR == "UI":
                text = _value_text(elem.value)
                if text:
                    yield elem.VR, text


def scan_dicom_bytes(data: bytes, matcher: Matcher, uid_matcher: Matcher) -> dict:
    elements = hit_elements = 0
    hits: Counter = Counter()
    log = logging.getLogger("pydicom")
    level = log.level
    log.setLevel(logging.CRITICAL)  # pydicom's value warnings may quote a value: none reaches the logs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for vr, text in dicom_strings(data):
                elements += 1
                found = (uid_matcher if vr == "UI" else matcher).kinds(text)
                if found:
                    hit_elements += 1
                    hits.update(found)
    except Exception:  # noqa: BLE001 - a written DICOM the gate cannot read cannot be cleared
        hits["unreadable_dicom"] += 1
    finally:
        log.setLevel(level)
    return {"elements": elements, "elements_with_hits": hit_elements, "hits": dict(sorted(hits.items()))}


def scan_files(out: str | Path, *, inputs=(), documents=(), canaries=(), patterns: dict | None = None,
               roots=(), exclude=()) -> dict:
    """Scan every file under ``out`` (``exclude``: relative names not scanned, e.g. the result file).

    ``inputs``: the input files as ``kind:relative/path`` (their relative paths and identifier-like
    stems become canaries); ``documents``: free-text documents of no known patient (a guideline
    named after its title, whose title rightly stays in its text): their relative paths only."""
    out = Path(out)
    names = sorted(n for n in set(name_canaries(inputs)) | set(name_canaries(documents, stems=False))
                   if carries_identifier(n))
    roots = [str(r) for r in roots if r and "://" not in str(r)]
    planted = [c for c in canaries if c]
    matcher = Matcher(planted + names + roots, patterns)
    uid_matcher = Matcher(planted + names + roots, False)  # keyed UIDs are long digit runs, not phone numbers
    files: dict[str, dict] = {}
    file_names: Counter = Counter()
    counts: Counter = Counter()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel in exclude:
            continue
        counts["files"] += 1
        file_names.update(matcher.kinds(rel))
        data = path.read_bytes()
        name = path.name.lower()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
            name = name.removesuffix(".gz")
        if _is_dicom(data, name):
            counts["dicom"] += 1
            result = scan_dicom_bytes(data, matcher, uid_matcher)
        else:
            counts["text"] += 1
            result = scan_text_bytes(data, Path(name).suffix, matcher)
            counts["binary_not_read"] += bool(result.get("binary"))
        if result["hits"]:
            files[rel] = result
    return {
        "ok": not files and not file_names,
        "files_scanned": counts["files"], "dicom_files": counts["dicom"], "text_files": counts["text"],
        "binary_files_not_read": counts["binary_not_read"],
        "files_with_hits": files,
        "file_names_with_hits": dict(sorted(file_names.items())),
        "canaries": {"planted": len(set(planted)), "input_names": len(names), "roots": len(roots)},
    }


def summary_line(result: dict) -> str:
    """One line: files with hits and how many lines or elements hit (counts only)."""
    if result["ok"]:
        return (f"leak gate: no residual identifiers or canaries in {result['files_scanned']} files "
                f"({result['dicom_files']} DICOM)")
    parts = [f"{f} (unreadable)" if "unreadable_dicom" in v["hits"] else
             f"{f} ({v['elements_with_hits']} elements)" if "elements" in v else f"{f} ({v['lines_with_hits']} lines)"
             for f, v in sorted(result["files_with_hits"].items())]
    if result["file_names_with_hits"]:
        parts.append(f"{sum(result['file_names_with_hits'].values())} file name(s)")
    return "leak gate FAILED: " + "; ".join(parts)
