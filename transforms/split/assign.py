"""Deterministic, patient-grouped split families from a keyed hash."""
from __future__ import annotations

import hashlib
import hmac


def split_family(group_key: str, secret: bytes, ratios: dict) -> str:
    """``evaluation`` for a keyed-hash share of groups equal to ``ratios['evaluation']``, else ``train``."""
    h = hmac.new(secret, b"split\x1f" + group_key.encode("utf-8"), hashlib.sha256).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    return "evaluation" if u < float(ratios.get("evaluation", 0.2)) else "train"


def leakage_check(assignments) -> list[str]:
    """``assignments``: iterable of (group_key, family); problems for keys in both families."""
    seen: dict[str, set] = {}
    for key, family in assignments:
        seen.setdefault(key, set()).add(family)
    return sorted(f"{k} in evaluation and training" for k, fams in seen.items() if len(fams) > 1)
