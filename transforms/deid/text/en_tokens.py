"""Tokens, spans and cue phrases of English free text, shared by the name and place rules."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# letters of any script: "Núñez", "Søren", "Zoë" are one word each (a name split at "ñ" kept its tail)
TOKEN = re.compile(r"[^\W_]+(?:'[^\W\d_]+)*|[^\s\w]|_")
SENTENCE_END = set(".!?:;\n")
_APOSTROPHE_NAME = re.compile(r"[^\W\d_]'[^\W\d_]{2,}")  # O'Connell, D'Angelo (not rec'd, con't)

#: evidence strength -> score of the span (Presidio threshold is 0.5)
STRONG, MEDIUM, WEAK = 0.95, 0.85, 0.6


@dataclass
class Tok:
    i: int
    start: int
    end: int
    text: str
    low: str  # lower case, possessive "'s" removed
    alpha: bool
    cap: bool  # starts with an upper-case letter
    upper: bool  # all upper case
    sent_start: bool  # first word of a sentence or line
    line_break_before: bool = False
    common: bool = False  # an English or clinical word (set by the detector)


@dataclass
class Span:
    start: int  # token index
    end: int  # token index, exclusive
    kind: str  # PERSON | LOCATION | HOSPITAL
    score: float
    sex: str | None = None
    rule: str = ""


@dataclass
class Found:
    spans: list[Span] = field(default_factory=list)

    def add(self, toks, start, end, kind, score, sex=None, rule=""):
        if start < end:
            self.spans.append(Span(start, end, kind, score, sex, rule))


def tokenize(text: str) -> list[Tok]:
    toks = []
    prev_end = 0
    sent = True
    for m in TOKEN.finditer(text):
        t = m.group()
        gap = text[prev_end:m.start()]
        brk = "\n" in gap
        low = t.lower()
        if low.endswith("'s") and len(low) > 2:
            low = low[:-2]
        alpha = t.isalpha() or bool(_APOSTROPHE_NAME.fullmatch(t)) or (low.isalpha() and t.lower().endswith("'s"))
        toks.append(Tok(len(toks), m.start(), m.end(), t, low, alpha, t[:1].isupper(), t.isupper(),
                        sent or brk, brk))
        sent = t in SENTENCE_END
        prev_end = m.end()
    return toks


def case_style(toks: list[Tok]) -> str:
    """'upper' (shouting notes), 'lower' (no capitals) or 'mixed': capitals carry evidence only in 'mixed'."""
    words = [t for t in toks if t.alpha and len(t.text) > 1]
    if not words:
        return "mixed"
    upper = sum(t.upper for t in words) / len(words)
    caps = sum(t.cap for t in words) / len(words)
    if upper > 0.6:
        return "upper"
    if caps < 0.04:
        return "lower"
    return "mixed"


def phrases(items: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """{first word: [phrase as words, longest first]} for multi-word cues."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for item in items:
        words = tuple(w for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]", item.lower()))
        if words:
            out.setdefault(words[0], []).append(words)
    for v in out.values():
        v.sort(key=len, reverse=True)
    return out


def match_phrase(toks, i, phrases) -> int:
    cands = phrases.get(toks[i].low) or phrases.get(toks[i].text.lower())
    if not cands:
        return 0
    for words in cands:
        if i + len(words) <= len(toks) and all(
                toks[i + k].low == w or toks[i + k].text.lower() == w for k, w in enumerate(words)):
            return len(words)
    return 0


def merge_spans(spans: list[Span]) -> list[Span]:
    """Overlapping or touching spans of one kind become one; the stronger kind wins an overlap."""
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    for s in spans:
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                last.end = s.end
            if s.score > last.score:
                last.score, last.kind = s.score, s.kind
            last.sex = last.sex or s.sex
            continue
        out.append(Span(s.start, s.end, s.kind, s.score, s.sex, s.rule))
    return out
