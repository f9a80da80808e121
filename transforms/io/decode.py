"""Bytes -> text for every reader (FHIR JSON/NDJSON, JSONL, CSV, plain text), in one place.

Order of the checks: a byte-order mark (UTF-32, UTF-8, UTF-16); UTF-16/UTF-32 without a BOM (the
NUL pattern of mostly-ASCII text); binary content; strict UTF-8; UTF-8 with a few damaged bytes
(valid multi-byte sequences elsewhere, each damaged sequence becomes U+FFFD and is counted, so
one bad byte never costs a whole file); GB18030/GBK; then charset-normalizer's best guess.
"""
from __future__ import annotations

from dataclasses import dataclass

#: longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\xef\xbb\xbf", "utf-8-sig"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_WIDE = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")


class UndecodableText(ValueError):
    pass


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    replaced: int = 0  # damaged UTF-8 sequences replaced by U+FFFD

    @property
    def is_plain_utf8(self) -> bool:
        return self.encoding == "utf-8" and not self.replaced


def has_bom(data: bytes) -> bool:
    return any(data.startswith(bom) for bom, _ in _BOMS)


def looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if has_bom(sample) or _wide_candidate(sample):
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > max(2, len(sample) // 100)


def _wide_candidate(sample: bytes) -> bool:
    """Many NULs at a regular stride: UTF-16 or UTF-32 text without a BOM."""
    if len(sample) < 4:
        return False
    zeros = sample.count(0)
    return zeros * 4 >= len(sample)


def _printable(text: str) -> bool:
    if "\x00" in text:
        return False
    sample = text[:4096]
    control = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\x0c\r\x1b")
    return control <= max(2, len(sample) // 100)


def _damaged_utf8(data: bytes) -> Decoded | None:
    """UTF-8 with a few invalid bytes: valid multi-byte characters elsewhere, few replacements."""
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    good = sum(1 for c in text if ord(c) > 127 and c != "\ufffd")
    if replaced > 0 and good >= 1 and replaced <= max(1, good // 20):
        return Decoded(text, "utf-8", replaced)
    return None


def decode_bytes(data: bytes) -> Decoded:
    """The text of ``data`` and how it was decoded, or ``UndecodableText`` (message without content)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(enc), enc)
            except UnicodeDecodeError:
                raise UndecodableText("bytes do not match their byte-order mark") from None
    if _wide_candidate(data[:4096]):
        best = None
        for enc in _WIDE:  # the decoding that reads as the most ASCII wins (the NULs are the high bytes)
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            sample = text[:4096]
            score = sum(1 for c in sample if 0 < ord(c) < 128) / max(1, len(sample))
            if _printable(text) and (best is None or score > best[0]):
                best = (score, text, enc)
        if best is not None:
            return Decoded(best[1], best[2])
    if looks_binary(data):
        raise UndecodableText("binary content")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    damaged = _damaged_utf8(data)
    if damaged is not None:
        return damaged
    try:
        text = data.decode("gb18030")
        if _cjk_share(text) > 0.05 or _latin_share(text) > 0.5 or _wide_cjk_share(text) >= 0.5:
            return Decoded(text, "gb18030")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise UndecodableText("no text encoding fits these bytes")
    text = str(best)
    if text.count("\ufffd") > max(3, len(text) // 100):
        raise UndecodableText("too many undecodable characters")
    return Decoded(text, best.encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) or ``UndecodableText``."""
    d = decode_bytes(data)
    return d.text, d.encoding


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF or 0xF900 <= o <= 0xFAFF


def _cjk_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if is_cjk(c)) / len(letters) if letters else 0.0


def _wide_cjk_share(text: str) -> float:
    """Share of CJK ideographs, CJK punctuation and full-width forms among the non-ASCII characters."""
    wide = [c for c in text if ord(c) > 127]
    if not wide:
        return 0.0
    return sum(1 for c in wide if is_cjk(c) or 0x3000 <= ord(c) <= 0x303F or 0xFF00 <= ord(c) <= 0xFFEF) / len(wide)


def _latin_share(text: str) -> float:
    return sum(1 for c in text if c.isascii() and c.isalpha()) / len(text) if text else 0.0
