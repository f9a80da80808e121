"""Free text -> concepts: synonym dictionary (EN + ZH) matched with an Aho-Corasick automaton.

Each mention carries its clinical context (negated, uncertain, historical, family, hypothetical,
screening/procedure; see ``transforms.context``), so "denies hypertension", "否认高血压",
"家族史：母亲患高血压" or "depression screening (procedure)" never becomes the patient's diagnosis.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import ahocorasick
import yaml

DATA = Path(__file__).resolve().parent / "data" / "synonyms.yaml"


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


def tag_concepts(text: str, language: str = "en") -> list[dict]:
    """Concept mentions with their clinical context (``transforms.context``): ``context`` lists the
    categories that modify the mention, ``current`` says whether the patient has it now."""
    from transforms.context import assert_context, patient_has_now

    folded = _fold(text)
    exact_text = unicodedata.normalize("NFKC", text)
    folded_a, exact_a = _automata()
    found = []
    for automaton, hay in ((folded_a, folded), (exact_a, exact_text)):
        if automaton is exact_a and len(exact_text) != len(folded):
            hay = folded  # NFKC + casefold changed lengths (rare ligatures): positions on the folded text
        for end, (code, term) in automaton.iter(hay):
            start = end - len(_fold(term) if automaton is folded_a else term) + 1
            if not _bounded(hay, start, end + 1):
                continue
            found.append((start, end + 1, code, term))
    # keep the longest match at each position
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept, last_end = [], -1
    for start, end, code, term in found:
        if start < last_end:
            continue
        last_end = end
        kept.append((start, end, code, term))
    contexts = assert_context(folded, [(s, e) for s, e, _, _ in kept], language)
    chronic = chronic_codes()
    out = []
    for (start, end, code, term), ctx in zip(kept, contexts):
        out.append({"code": code, "term": term, "start": start, "end": end,
                    "context": sorted(ctx), "cues": dict(sorted(ctx.items())),
                    "negated": "NEGATED" in ctx, "uncertain": "POSSIBLE" in ctx,
                    "current": patient_has_now(ctx, code in chronic)})
    return out


@lru_cache(maxsize=1)
def chronic_codes() -> frozenset:
    """Concepts whose history means presence ("history of hypertension": still hypertensive)."""
    return frozenset(c["code"] for c in dictionary()["concepts"] if c.get("chronic"))


def preferred_display(code: str, language: str = "en") -> str | None:
    for concept in dictionary()["concepts"]:
        if concept["code"] == code:
            return concept.get("zh" if language == "zh" else "en")
    return None
