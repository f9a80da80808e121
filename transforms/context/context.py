"""ConText over character offsets, English and Chinese: which cues modify which concept mentions.

Rules are data (``rules.yaml``). A cue's scope starts at the cue and runs (forward, backward or both)
to the end of its unit — sentence, clause, phrase, line or section — is cut short by a TERMINATE cue
or by another cue of the same category (medspaCy's ``limit_scope``), and is capped at ``max_scope``
words (English) or characters (Chinese). PSEUDO cues only consume text ("no increase" is not "no").
Matching is on NFKC-folded, case-folded text; English cues sit on word boundaries, Chinese cues
need none. A mention is modified by a cue whose scope overlaps it and which does not overlap it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parent / "rules.yaml"
CATEGORIES = ("NEGATED", "POSSIBLE", "HISTORICAL", "FAMILY", "HYPOTHETICAL", "SCREENING")
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@dataclass(frozen=True)
class Rule:
    category: str
    direction: str  # forward | backward | bidirectional | terminate | pseudo
    scope: str = "sentence"  # sentence | clause | phrase | line | section
    max_scope: int | None = None


@dataclass(frozen=True)
class Cue:
    start: int
    end: int
    text: str
    rule: Rule


class LanguageRules:
    """The compiled cues of one language."""

    def __init__(self, language: str, spec: dict):
        self.language = language
        self.breaks = {name: re.compile(spec[key]) for name, key in
                       (("sentence", "sentence_breaks"), ("clause", "clause_breaks"))}
        self.breaks["phrase"] = re.compile(spec.get("phrase_breaks") or spec["clause_breaks"])
        self.breaks["line"] = re.compile(r"\n")
        self.by_cue: dict[str, list[Rule]] = {}
        for r in spec["rules"]:
            rule = Rule(r["category"], r["direction"], r.get("scope", "sentence"), r.get("max_scope"))
            for cue in r["cues"]:
                self.by_cue.setdefault(fold(str(cue)), []).append(rule)
        alternatives = []
        for cue in sorted(self.by_cue, key=lambda c: (-len(c), c)):
            pat = re.escape(cue)
            if language == "en":
                if cue[0].isalnum():
                    pat = r"(?<![\w])" + pat
                if cue[-1].isalnum():
                    pat += r"(?![\w])"
            alternatives.append(pat)
        self.pattern = re.compile("|".join(alternatives))

    def cues(self, folded: str, lo: int = 0, hi: int | None = None) -> list[Cue]:
        out = []
        for m in self.pattern.finditer(folded, lo, len(folded) if hi is None else hi):
            for rule in self.by_cue[m.group(0)]:
                out.append(Cue(m.start(), m.end(), m.group(0), rule))
        return out

    def unit(self, folded: str, pos: int, scope: str) -> tuple[int, int]:
        """The [start, end) of the sentence / clause / phrase / line around ``pos``."""
        brk = self.breaks.get(scope) or self.breaks["sentence"]
        start = 0
        for m in brk.finditer(folded, 0, pos):
            start = m.end()
        m = brk.search(folded, pos)
        return start, (m.start() if m else len(folded))


@lru_cache(maxsize=1)
def rules() -> dict:
    with open(RULES, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=4)
def language_rules(language: str) -> LanguageRules:
    return LanguageRules(language, rules()["languages"][language])


_EN_HEADER = re.compile(r"^[ \t]*(?:#+[^\n]*|[A-Za-z][A-Za-z /&-]{1,40}:)", re.M)
_ZH_HEADER = re.compile(r"[\u4e00-\u9fff]{2,6}[：:]")


def _section_end(folded: str, start: int, language: str) -> int:
    """A section runs to the next header or blank line (en) / to the end of the sentence or the
    next header (zh)."""
    if language == "zh":
        ends = [m.start() for m in (_ZH_HEADER.search(folded, start), re.compile(r"[。\n]").search(folded, start)) if m]
    else:
        ends = [m.start() for m in (_EN_HEADER.search(folded, start), re.compile(r"\n[ \t]*\n").search(folded, start))
                if m]
    return min(ends) if ends else len(folded)


def _cap(folded: str, cue: Cue, lo: int, hi: int, language: str) -> tuple[int, int]:
    n = cue.rule.max_scope
    if not n:
        return lo, hi
    if language == "zh":
        return max(lo, cue.start - n), min(hi, cue.end + n)
    after = [m.end() for m in _WORD.finditer(folded, cue.end, hi)][:n]
    before = [m.start() for m in _WORD.finditer(folded, lo, cue.start)][-n:]
    return (before[0] if before else cue.start), (after[-1] if after else cue.end)


def scopes(folded: str, language: str, lo: int = 0, hi: int | None = None) -> list[tuple[Cue, int, int]]:
    """Every modifying cue in folded[lo:hi] with its scope [start, end)."""
    lr = language_rules(language)
    cues = lr.cues(folded, lo, hi)
    out = []
    for cue in cues:
        d = cue.rule.direction
        if d in ("terminate", "pseudo"):
            continue
        if cue.rule.scope == "section":
            s, e = cue.end, _section_end(folded, cue.end, language)
        else:
            s, e = lr.unit(folded, cue.start, cue.rule.scope)
        s, e = max(s, lo), min(e, len(folded) if hi is None else hi)
        if d == "forward":
            s = cue.end
        elif d == "backward":
            e = cue.start
        for other in cues:
            if other is cue or other.rule.direction == "pseudo":
                continue
            limits = other.rule.direction == "terminate" or other.rule.category == cue.rule.category
            if not limits or (other.start < cue.end and other.end > cue.start):
                continue
            if d in ("forward", "bidirectional") and other.start >= cue.end:
                e = min(e, other.start)
            if d in ("backward", "bidirectional") and other.end <= cue.start:
                s = max(s, other.end)
        s, e = _cap(folded, cue, s, e, language)
        if e > s:
            out.append((cue, s, e))
    return out


def sentence_language(folded: str, start: int, end: int, default: str = "en") -> str:
    """zh when the sentence around a mention is mostly Chinese (mixed notes: Latin abbreviations)."""
    lr = language_rules("zh")
    s, e = lr.unit(folded, start, "sentence")
    window = folded[s:max(e, end)]
    letters = [ch for ch in window if ch.isalpha()]
    if not letters:
        return default
    return "zh" if sum(1 for ch in letters if is_cjk(ch)) / len(letters) >= 0.3 else "en"


def assert_context(folded: str, mentions: list[tuple[int, int]], language: str = "en") -> list[dict]:
    """For each (start, end) mention in ``folded``, the context categories that modify it and the
    cues that did (``{"NEGATED": "denies", ...}``)."""
    by_lang: dict[str, list[tuple[Cue, int, int]]] = {}
    out = []
    for start, end in mentions:
        lang = sentence_language(folded, start, end, "zh" if language == "zh" else "en")
        if lang not in by_lang:
            by_lang[lang] = scopes(folded, lang)
        found: dict[str, str] = {}
        for cue, s, e in by_lang[lang]:
            if cue.start < end and cue.end > start:
                continue  # a cue never modifies a mention it overlaps
            if s < end and e > start:
                found.setdefault(cue.rule.category, cue.text)
        out.append(found)
    return out
