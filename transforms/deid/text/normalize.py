"""Normalise text before PHI matching and map every span back to the original text.

Recognizers see one canonical form: NFKC (full-width digits and letters, ligatures, compatibility
characters), straight apostrophes and quotes, decoded HTML character references (``&#45;``,
``&nbsp;``, ``&amp;``) and no zero-width characters. Replacement happens on the original text, so a
span found in the normal form is mapped back through :class:`Normalized.original_span`.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
                         "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
                         "\u00a0": " ", "\u3000": " "})
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}
_ENTITY = re.compile(r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")


@dataclass(frozen=True)
class Normalized:
    text: str
    #: for each character of ``text``, the (start, end) of the original characters it came from;
    #: None when ``text`` is the original
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.starts is None:
            return start, end
        if end <= start:
            at = self.starts[start] if start < len(self.starts) else (self.ends[-1] if self.ends else 0)
            return at, at
        return self.starts[start], self.ends[end - 1]


def _needs_work(text: str) -> bool:
    return not text.isascii() or "&" in text


def normalize(text: str) -> Normalized:
    """The canonical form of ``text`` with an index back to it (identity for plain ASCII)."""
    if not _needs_work(text):
        return Normalized(text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _ENTITY.finditer(text) if "&" in text else ():
        _append_chars(text, pos, m.start(), out, starts, ends)
        decoded = html.unescape(m.group())
        if decoded == m.group():  # not an entity html knows: keep as written
            _append_chars(text, m.start(), m.end(), out, starts, ends)
        else:
            for ch in _fold(decoded):
                out.append(ch)
                starts.append(m.start())
                ends.append(m.end())
        pos = m.end()
    _append_chars(text, pos, len(text), out, starts, ends)
    return Normalized("".join(out), tuple(starts), tuple(ends))


def _fold(s: str) -> str:
    s = s.translate(_QUOTES)
    return "".join(c for c in unicodedata.normalize("NFKC", s) if c not in _ZERO_WIDTH).translate(_QUOTES)


def _append_chars(text: str, start: int, end: int, out: list[str], starts: list[int], ends: list[int]) -> None:
    for i in range(start, end):
        ch = text[i]
        for f in (ch,) if ch.isascii() else _fold(ch):
            out.append(f)
            starts.append(i)
            ends.append(i + 1)
