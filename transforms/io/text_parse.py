"""Parse text sources: ``.txt``/``.md`` (one document per file), ``.jsonl``, ``.csv``.

Encodings are detected by ``transforms.io.decode`` (BOMs, UTF-16/32, GB18030/GBK, UTF-8 with a few
damaged bytes), text is normalised to NFC, binary or undecodable content is rejected, and the
language (zh, en, mixed, other) is detected from the script mix and recorded.

The smallest broken unit is rejected: a bad JSONL line or CSV row alone (a file where no line is
a JSON object on its own is one reject), a field of the wrong JSON type, a note over
``limits.max_note_chars`` or a CSV cell over ``limits.max_csv_cell_chars``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from typing import Iterator

import orjson

from transforms.io.archive import BadArchive, unwrap
from transforms.io.decode import UndecodableText, decode_bytes, decode_text, is_cjk, looks_binary  # noqa: F401
from transforms.io.fhir_refs import json_type, normalize_id
from transforms.io.limits import LimitExceeded, Limits, check_json

_is_cjk = is_cjk
#: Python's csv module refuses cells over 131,072 characters by default; our own cap is per cell
_CSV_FIELD_LIMIT = 2 ** 31 - 1


def _reject(source: str, position: str, kind: str, message: str) -> dict:
    return {"reject": True, "source": source, "position": position, "stage": "read", "error_kind": kind,
            "message": message}


def fold_for_matching(text: str) -> str:
    """NFKC folds full-width digits and letters (１２３ＡＢＣ -> 123ABC) for matching only."""
    return unicodedata.normalize("NFKC", text)


def detect_language(text: str) -> tuple[str, float]:
    """zh, en, mixed or other, with a confidence from the script shares of the letters."""
    letters = [c for c in fold_for_matching(text) if c.isalpha()]
    if not letters:
        return "other", 0.0
    cjk = sum(1 for c in letters if _is_cjk(c)) / len(letters)
    latin = sum(1 for c in letters if c.isascii()) / len(letters)
    if cjk >= 0.6:
        return "zh", round(cjk, 3)
    if latin >= 0.9:
        return "en", round(latin, 3)
    if cjk >= 0.15 and latin >= 0.15:
        # Chinese notes routinely carry Latin abbreviations (CT, HbA1c): count CJK characters, not letters
        return ("zh", round(cjk, 3)) if cjk >= 0.35 else ("mixed", round(min(cjk, latin) * 2, 3))
    if latin >= 0.6:
        return "en", round(latin, 3)
    return "other", round(1 - max(cjk, latin), 3)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def _doc_id(source: str, position: str) -> str:
    return hashlib.sha256(f"{source}\x1f{position}".encode()).hexdigest()[:24]


def _unit(source, position, text, *, doc_id=None, patient_id=None, language=None, doc_type=None, date=None,
          metadata=None) -> dict:
    text = normalize(text)
    lang = language if language in ("zh", "en", "mixed", "other") else detect_language(text)[0]
    return {"kind": "text", "source": source, "position": position, "doc_id": str(doc_id or _doc_id(source, position)),
            "text": text, "patient_id": (str(patient_id) if patient_id not in (None, "") else None),
            "language": lang, "doc_type": doc_type, "date": (str(date) if date else None),
            "metadata": metadata if isinstance(metadata, dict) else {}}


def _name(source: str) -> str:
    name = source.rsplit("/", 1)[-1].lower()
    return name[:-3] if name.endswith(".gz") else name


@dataclass
class TextFile:
    """One text file, parsed: units and rejects in file order, how it was decoded, and for JSONL
    the parsed object of every line that became a unit (``medcorpus deid`` writes them back)."""

    shape: str = "rejected"  # text | jsonl | csv | rejected
    items: list = field(default_factory=list)
    objects: dict = field(default_factory=dict)  # position -> parsed JSONL object or CSV row (keep_objects)
    columns: list = field(default_factory=list)  # CSV column names
    encoding: str = ""
    replaced: int = 0


def read_text(data: bytes, source: str, *, csv_text_column: str = "text", limits: Limits | None = None,
              shape: str | None = None, keep_objects: bool = False) -> TextFile:
    """Parse one text file; ``shape`` (``jsonl``, ``csv``, ``text``) overrides the choice by file name.
    ``keep_objects`` keeps each JSONL line's object and each CSV row (any columns) for ``medcorpus deid``."""
    limits = limits or Limits()
    out = TextFile()
    if not data:
        out.items = [_reject(source, "file", "empty_file", "zero-byte file")]
        return out
    try:
        data = unwrap(data, limits)
    except (LimitExceeded, BadArchive) as exc:
        out.items = [_reject(source, "file", exc.kind, exc.message)]
        return out
    if len(data) > limits.max_decompressed_bytes:
        out.items = [_reject(source, "file", "file_too_large",
                             f"decompressed size over the cap of {limits.max_decompressed_bytes} bytes")]
        return out
    try:
        decoded = decode_bytes(data)
    except UndecodableText as exc:
        out.items = [_reject(source, "file", "undecodable_text", str(exc))]
        return out
    text, out.encoding, out.replaced = decoded.text, decoded.encoding, decoded.replaced
    name = _name(source)
    shape = shape or ("jsonl" if name.endswith((".jsonl", ".ndjson")) else "csv" if name.endswith(".csv") else "text")
    if shape == "jsonl":
        out.shape = "jsonl"
        out.items = list(_jsonl(text, source, limits, out.objects if keep_objects else None))
    elif shape == "csv":
        out.shape = "csv"
        out.items = list(_csv(text, source, csv_text_column, limits, out, keep_objects))
    else:
        out.shape = "text"
        if not text.strip():
            out.items = [_reject(source, "file", "empty_text", "file holds no text")]
        elif len(text) > limits.max_note_chars:
            out.items = [_reject(source, "file", "text_too_long", _too_long("the file", len(text), limits))]
        else:
            out.items = [_unit(source, "file", text, doc_type="document" if name.endswith(".md") else None)]
    return out


def iter_text_units(data: bytes, source: str, *, csv_text_column: str = "text",
                    max_bytes: int | None = None, limits: Limits | None = None) -> Iterator[dict]:
    limits = limits or Limits()
    if max_bytes is not None:
        limits = limits.with_max_bytes(max_bytes)
    yield from read_text(data, source, csv_text_column=csv_text_column, limits=limits).items


def _too_long(what: str, n: int, limits: Limits) -> str:
    return f"{what} holds {n} characters, over the configured cap of {limits.max_note_chars} (limits.max_note_chars)"


def _field_problem(obj: dict) -> tuple[str, str] | None:
    """Ids normalised or refused; optional string fields must be strings (or absent/null)."""
    for key, kind in (("id", "invalid_id"), ("patient_id", "invalid_patient_id")):
        if obj.get(key) is not None:
            _, problem = normalize_id(obj[key])
            if problem:
                return kind, f"'{key}' is {problem}"
    for key in ("language", "doc_type", "date"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return "invalid_field_type", f"'{key}' is a JSON {json_type(obj[key])}, not a string"
    return None


def _jsonl(text: str, source: str, limits: Limits, objects: dict | None) -> Iterator[dict]:
    lines = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            lines.append((n, orjson.loads(line)))
        except orjson.JSONDecodeError:
            lines.append((n, _INVALID))
    if lines and not any(isinstance(v, dict) for _, v in lines):
        yield _reject(source, "file", "invalid_json", "no line is a JSON object on its own (not JSONL; "
                                                      "a pretty-printed or truncated JSON file?)")
        return
    for n, obj in lines:
        position = f"line {n}"
        if obj is _INVALID:
            yield _reject(source, position, "invalid_json", "line is not valid JSON")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            yield _reject(source, position, "missing_text", "line has no non-empty string field 'text'")
            continue
        problem = _field_problem(obj)
        if problem:
            yield _reject(source, position, *problem)
            continue
        if len(obj["text"]) > limits.max_note_chars:
            yield _reject(source, position, "text_too_long", _too_long("'text'", len(obj["text"]), limits))
            continue
        try:
            check_json(obj, limits, "line")
        except LimitExceeded as exc:
            yield _reject(source, position, exc.kind, exc.message)
            continue
        if objects is not None:
            objects[position] = obj
        yield _unit(source, position, obj["text"], doc_id=normalize_id(obj.get("id"))[0],
                    patient_id=normalize_id(obj.get("patient_id"))[0], language=obj.get("language"),
                    doc_type=obj.get("doc_type"), date=obj.get("date"), metadata=obj.get("metadata"))


_INVALID = object()


def csv_rows(text: str, source: str, limits: Limits) -> tuple[list[str], Iterator]:
    """``(column names, rows)``: each row is ``(position, {column: cell})`` or a reject dict (a
    malformed row, a cell over ``limits.max_csv_cell_chars``); never stops at a bad row."""
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)  # cells are checked against limits.max_csv_cell_chars below
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = list(reader.fieldnames or [])
    except csv.Error:
        fieldnames = []

    def rows():
        n = 1
        while True:
            n += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield _reject(source, f"line {n}", "invalid_csv_row", "malformed CSV row")
                continue
            cells = [v for k, v in row.items() if k is not None and isinstance(v, str)] + list(row.get(None) or [])
            big = max((len(c) for c in cells if isinstance(c, str)), default=0)
            if big > limits.max_csv_cell_chars:
                yield _reject(source, f"line {n}", "csv_cell_too_large",
                              f"a cell holds {big} characters, over the configured cap of "
                              f"{limits.max_csv_cell_chars} (limits.max_csv_cell_chars)")
                continue
            yield f"line {n}", row

    return fieldnames, rows()


def _csv(text: str, source: str, column: str, limits: Limits, out: TextFile, keep_objects: bool) -> Iterator[dict]:
    fieldnames, rows = csv_rows(text, source, limits)
    out.columns = fieldnames
    if keep_objects:  # medcorpus deid: every row, whatever its columns
        for item in rows:
            if isinstance(item, dict):
                yield item
                continue
            position, row = item
            out.objects[position] = row
            yield {"kind": "text", "source": source, "position": position, "row": True}
        return
    if column not in fieldnames:
        yield _reject(source, "file", "missing_text_column", f"CSV has no column named '{column}'")
        return
    for item in rows:
        if isinstance(item, dict):
            yield item
            continue
        position, row = item
        value = row.get(column)
        if not value or not value.strip():
            yield _reject(source, position, "missing_text", f"empty '{column}' cell")
            continue
        if len(value) > limits.max_note_chars:
            yield _reject(source, position, "text_too_long", _too_long(f"'{column}'", len(value), limits))
            continue
        yield _unit(source, position, value, doc_id=row.get("id"), patient_id=row.get("patient_id"),
                    language=row.get("language"), doc_type=row.get("doc_type"), date=row.get("date"))
