"""Parse text sources: ``.txt``/``.md`` (one document per file), ``.jsonl``, ``.csv``.

Encodings are detected (UTF-8 with or without BOM, UTF-16 with BOM, GB18030/GBK via
charset-normalizer), text is normalised to NFC, binary or undecodable content is rejected, and the
language (zh, en, mixed, other) is detected from the script mix and recorded.
"""
from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from typing import Iterator

import orjson

from transforms.io.fhir_parse import maybe_gunzip

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


class UndecodableText(ValueError):
    pass


def _reject(source: str, position: str, kind: str, message: str) -> dict:
    return {"reject": True, "source": source, "position": position, "stage": "read", "error_kind": kind,
            "message": message}


def looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > max(2, len(sample) // 100)


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) or ``UndecodableText``."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError:
                raise UndecodableText("bytes do not match their byte-order mark") from None
    if looks_binary(data):
        raise UndecodableText("binary content")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if _cjk_share(text) > 0.05 or _latin_share(text) > 0.5:
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise UndecodableText("no text encoding fits these bytes")
    text = str(best)
    if text.count("\ufffd") > max(3, len(text) // 100):
        raise UndecodableText("too many undecodable characters")
    return text, best.encoding


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF or 0xF900 <= o <= 0xFAFF


def _cjk_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if _is_cjk(c)) / len(letters) if letters else 0.0


def _latin_share(text: str) -> float:
    return sum(1 for c in text if c.isascii() and c.isalpha()) / len(text) if text else 0.0


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


def iter_text_units(data: bytes, source: str, *, csv_text_column: str = "text",
                    max_bytes: int = 256 * 1024 * 1024) -> Iterator[dict]:
    if not data:
        yield _reject(source, "file", "empty_file", "zero-byte file")
        return
    try:
        data = maybe_gunzip(data)
    except Exception:  # noqa: BLE001
        yield _reject(source, "file", "bad_gzip", "truncated or corrupt gzip data")
        return
    if len(data) > max_bytes:
        yield _reject(source, "file", "file_too_large", f"decompressed size over the cap of {max_bytes} bytes")
        return
    try:
        text, _ = decode_text(data)
    except UndecodableText as exc:
        yield _reject(source, "file", "undecodable_text", str(exc))
        return
    name = _name(source)
    if name.endswith((".jsonl", ".ndjson")):
        yield from _jsonl(text, source)
    elif name.endswith(".csv"):
        yield from _csv(text, source, csv_text_column)
    else:
        if not text.strip():
            yield _reject(source, "file", "empty_text", "file holds no text")
            return
        doc_type = "document" if name.endswith(".md") else None
        yield _unit(source, "file", text, doc_type=doc_type)


def _jsonl(text: str, source: str) -> Iterator[dict]:
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        position = f"line {n}"
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield _reject(source, position, "invalid_json", "line is not valid JSON")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            yield _reject(source, position, "missing_text", "line has no non-empty string field 'text'")
            continue
        yield _unit(source, position, obj["text"], doc_id=obj.get("id"), patient_id=obj.get("patient_id"),
                    language=obj.get("language"), doc_type=obj.get("doc_type"), date=obj.get("date"),
                    metadata=obj.get("metadata"))


def _csv(text: str, source: str, column: str) -> Iterator[dict]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or column not in reader.fieldnames:
        yield _reject(source, "file", "missing_text_column", f"CSV has no column named '{column}'")
        return
    for n, row in enumerate(reader, start=2):
        value = row.get(column)
        if not value or not value.strip():
            yield _reject(source, f"line {n}", "missing_text", f"empty '{column}' cell")
            continue
        yield _unit(source, f"line {n}", value, doc_id=row.get("id"), patient_id=row.get("patient_id"),
                    language=row.get("language"), doc_type=row.get("doc_type"), date=row.get("date"))
