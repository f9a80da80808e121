"""Free text -> concepts: synonym dictionary (EN + ZH) matched with an Aho-Corasick automaton.

Negation and uncertainty cues in a short window before a mention (same sentence) mark it, so
"denies hypertension" or "否认高血压" never becomes a diagnosis code.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import ahocorasick
import yaml

DATA = Path(__file__).resolve().parent / "data" / "synonyms.yaml"
_SENTENCE_BREAK = re.compile(r"[.。!！;；\n]")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=1)
def dictionary() -> dict:
    with open(DATA, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def _automata():
    d = dictionary()
    folded, exact = ahocorasick.Automaton(), ahocorasick.Automaton()
    for concept in d["concepts"]:
        for term in concept.get("terms", []):
            folded.add_word(_fold(term), (concept["code"], term))
        for term in concept.get("case_sensitive", []):
            exact.add_word(unicodedata.normalize("NFKC", term), (concept["code"], term))
    folded.make_automaton()
    exact.make_automaton()
    return folded, exact


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _bounded(text: str, start: int, end: int) -> bool:
    """Latin terms must sit on word boundaries; CJK terms need none."""
    before = text[start - 1] if start > 0 and not _is_cjk(text[start]) else " "
    after = text[end] if end < len(text) and not _is_cjk(text[end - 1]) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def _cue_before(folded: str, start: int, cues: list[str], window: int) -> bool:
    left = folded[max(0, start - window):start]
    brk = list(_SENTENCE_BREAK.finditer(left))
    if brk:
        left = left[brk[-1].end():]
    for cue in cues:
        c = _fold(cue)
        idx = left.rfind(c)
        if idx < 0:
            continue
        if c[0].isascii() and c[0].isalpha():
            b = left[idx - 1] if idx > 0 else " "
            a = left[idx + len(c)] if idx + len(c) < len(left) else " "
            if b.isalnum() or a.isalnum():
                continue
        return True
    return False


def tag_concepts(text: str, language: str = "en") -> list[dict]:
    d = dictionary()
    folded = _fold(text)
    exact_text = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):  # NFKC changed lengths (rare ligatures): match on the folded text only
        text = folded
    folded_a, exact_a = _automata()
    found = []
    for automaton, hay in ((folded_a, folded), (exact_a, exact_text)):
        for end, (code, term) in automaton.iter(hay):
            start = end - len(_fold(term) if automaton is folded_a else term) + 1
            if not _bounded(hay, start, end + 1):
                continue
            found.append((start, end + 1, code, term))
    # keep the longest match at each position
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    out, last_end = [], -1
    neg = d["negation_cues"]
    unc = d["uncertainty_cues"]
    win = d["window_chars"]
    for start, end, code, term in found:
        if start < last_end:
            continue
        last_end = end
        cjk = _is_cjk(folded[start])
        w = win["zh"] if cjk else win["en"]
        cues_n = neg["zh"] if cjk else neg["en"]
        cues_u = unc["zh"] if cjk else unc["en"]
        out.append({"code": code, "term": term, "start": start, "end": end,
                    "negated": _cue_before(folded, start, cues_n, w),
                    "uncertain": _cue_before(folded, start, cues_u, w)})
    return out


def preferred_display(code: str, language: str = "en") -> str | None:
    for concept in dictionary()["concepts"]:
        if concept["code"] == code:
            return concept.get("zh" if language == "zh" else "en")
    return None
