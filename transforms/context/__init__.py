"""Clinical context of concepts found in text (ConText, English and Chinese).

``assert_context(folded_text, mentions, language)`` tells, for every mention, which of NEGATED,
POSSIBLE, HISTORICAL, FAMILY, HYPOTHETICAL and SCREENING (an activity, not a diagnosis) modify it;
``patient_has_now(categories, chronic)`` is the decision a label needs: the patient has the concept
now unless it is negated, uncertain, a relative's, hypothetical or a screening/procedure, or it is
historical and not a chronic condition.
"""
from __future__ import annotations

from transforms.context.context import CATEGORIES, assert_context, fold, rules

NOT_NOW = ("NEGATED", "POSSIBLE", "FAMILY", "HYPOTHETICAL", "SCREENING")


def patient_has_now(categories, chronic: bool = False) -> bool:
    found = set(categories)
    if found & set(NOT_NOW):
        return False
    if "HISTORICAL" in found:
        return bool(chronic and rules().get("historical_means_current_for_chronic", True))
    return True


__all__ = ["CATEGORIES", "NOT_NOW", "assert_context", "fold", "patient_has_now", "rules"]
