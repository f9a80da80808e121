"""Texts the de-identifier found nothing in, remembered across the patients of a worker.

Every FHIR string now goes through the text de-identifier, and most of them (coding displays,
concept texts, dosage texts) repeat from patient to patient. A text in which the detector found
nothing, whatever the patient, holds nothing its generic recognizers flag; for another patient
only their *known PHI* could add a finding, and that is matched literally. So a remembered clean
text is returned unchanged when none of the patient's known values - checked conservatively, token
by token, case-folded - occurs in it; otherwise it is de-identified again. The output is the same
either way (tested), so runs stay deterministic on any runner.

A patient whose KnownPHI carries a flag (e.g. ``over_89``) is always de-identified in full: a flag
may change what the detector looks for.
"""
from __future__ import annotations

import dataclasses
import re

#: KnownPHI fields that are never searched for in the text: they can only keep a finding out
#: (clinical terms) or choose a surrogate (sex), so a text clean for one patient is clean for another
_NOT_SEARCHED = {"clinical_terms", "sex"}
_TOKEN = re.compile(r"[^\W_]{3,}|\d{2,}", re.UNICODE)


def known_tokens(known) -> frozenset[str] | None:
    """Case-folded tokens of every known value; None when the shortcut must not be used."""
    if known is None:
        return frozenset()
    tokens: set[str] = set()
    for f in dataclasses.fields(known):
        if f.name in _NOT_SEARCHED:
            continue
        value = getattr(known, f.name)
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        for v in values:
            if isinstance(v, bool):
                if v:
                    return None
            elif isinstance(v, str):
                folded = v.casefold()
                tokens.update(_TOKEN.findall(folded))
                if any("\u4e00" <= c <= "\u9fff" for c in folded):
                    tokens.update(c for c in folded if "\u4e00" <= c <= "\u9fff")  # CJK: every character
            elif v not in (None, 0, ""):
                return None
    return frozenset(tokens)


class CleanTexts:
    """A bounded set of (text, language) pairs in which the detector found nothing."""

    def __init__(self, max_size: int = 200_000):
        self.max_size = max_size
        self.keys: set[tuple[str, str]] = set()

    def unchanged(self, key: tuple[str, str], tokens: frozenset[str] | None) -> bool:
        """True when ``key`` is known clean and no known token of this patient occurs in it."""
        if tokens is None or key not in self.keys:
            return False
        folded = key[0].casefold()
        return not any(t in folded for t in tokens)

    def remember(self, key: tuple[str, str], result: tuple[str, dict]) -> None:
        if result[0] == key[0] and not result[1] and len(self.keys) < self.max_size:
            self.keys.add(key)
