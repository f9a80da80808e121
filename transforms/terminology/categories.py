"""Kinds of ICD-10 codes: clinical diagnoses vs social, administrative and status codes.

The table (``data/code_categories.yaml``) decides; see it for the reasons. ``clinical`` is what a
diagnosis task may answer and what the ICD-10 coverage target counts.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data" / "code_categories.yaml"


@lru_cache(maxsize=1)
def table() -> dict:
    with open(DATA, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _in_range(category: str, pattern: str) -> bool:
    lo, _, hi = pattern.partition("-")
    return lo <= category <= (hi or lo)


@lru_cache(maxsize=8192)
def code_category(code: str) -> str:
    """``clinical`` | ``social`` | ``administrative`` | ``status`` for an ICD-10 code or category."""
    cat = str(code or "").replace(".", "").upper()[:3]
    for name, ranges in table()["categories"].items():
        if any(_in_range(cat, r) for r in ranges):
            return name
    return "clinical"


def is_diagnosis(code: str) -> bool:
    return code_category(code) == "clinical"


def condition_category(target_code: str | None, map_source: str | None = None) -> str:
    """``clinical`` or ``social_administrative`` for a Condition: by its ICD-10 code, or by a map row
    that leaves it unmapped on purpose."""
    if target_code:
        return "social_administrative" if code_category(target_code) in ("social", "administrative") else "clinical"
    if str(map_source or "").startswith("unmapped"):
        return table().get("unmapped_category", "social_administrative")
    return "clinical"
