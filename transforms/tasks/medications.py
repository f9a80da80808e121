"""Prescription review: medication list + problem list -> each medication's indication (ICD-10).

Weak labels from the record: ``MedicationRequest.reasonReference`` (the Condition) or ``reasonCode``
(mapped to ICD-10). Medications given for non-clinical reasons (contraception care) are left out.
Chinese examples need a Chinese name for every drug (``data/drugs.yaml``); otherwise only English.
"""
from __future__ import annotations

import re

from transforms.tasks.common import (answer_line, base, by_id, diagnosis, display, icd10_name, prompt,
                                     ref_id, resources, table, task_languages, who)
from transforms.tasks.registry import register_builder

_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(MG/ML|MG/HR|MG/ACTUAT|UNT/ML|MG|ML|UNT)\b", re.I)
NO_INDICATION = {"en": "no documented indication", "zh": "无记录的适应证"}


def drugs() -> dict:
    return table("drugs.yaml")


def ingredients(name: str) -> list[str]:
    low = name.lower()
    return sorted((k for k in drugs()["drugs"] if re.search(rf"(?<![a-z]){re.escape(k)}(?![a-z])", low)),
                  key=low.find)


def drug_name(name: str, language: str) -> str | None:
    """The record's medication display (en) or its Chinese rendering: ingredients + first strength."""
    if language == "en":
        return name
    found = ingredients(name)
    if not found:
        return None
    zh = "/".join(drugs()["drugs"][k]["zh"] for k in found)
    m = _STRENGTH.search(name)
    return f"{zh} {m[1]} {m[2].lower()}" if m else zh


def drug_class(name: str) -> str | None:
    found = ingredients(name)
    return drugs()["drugs"][found[0]]["class"] if found else None


def _indication(req: dict, conditions: dict, language: str) -> tuple[str, str] | None | bool:
    """(code, name) of the clinical indication; None when none is recorded; False when the reason is
    not clinical (the medication is left out)."""
    reason = ref_id(req, "reasonReference")
    if reason and reason in conditions:
        return diagnosis(conditions[reason], language) or False
    for rc in req.get("reasonCode") or []:
        got = diagnosis({"code": rc}, language)
        return got or False
    return None


def medication_list(record: dict, language: str, limit: int = 10):
    """[(name in language, (code, name) | None, record display)] of the latest distinct medications."""
    conditions = by_id(record, "Condition")
    latest: dict[str, tuple] = {}
    for req in resources(record, "MedicationRequest"):
        name = display(req.get("medicationCodeableConcept"))
        if not name:
            continue
        ind = _indication(req, conditions, language)
        if ind is False:
            continue
        when = str(req.get("authoredOn") or "")
        if name not in latest or when > latest[name][0]:
            latest[name] = (when, ind)
    chosen = sorted(latest.items(), key=lambda kv: (kv[1][0], kv[0]), reverse=True)[:limit]
    out, names = [], set()
    for name, (when, ind) in sorted(chosen, key=lambda kv: (kv[1][1] is None, kv[0])):
        rendered = drug_name(name, language)
        if rendered is None:
            return [], ""
        if rendered in names:  # two products that read the same in this language: list the drug once
            continue
        names.add(rendered)
        out.append((rendered, ind, name))
    out.sort(key=lambda m: m[2])
    date = max((w for _, (w, _) in chosen), default="")[:10]
    return out, date


def problem_list(record: dict, meds: list, date: str, language: str) -> list[str]:
    names = {ind[1] for _, ind, _ in meds if ind}
    for res in resources(record, "Condition"):
        got = diagnosis(res, language)
        ended = str(res.get("abatementDateTime") or "")[:10]
        if got and (not ended or ended >= date):
            names.add(got[1])
    return sorted(names)


def review_answer(meds: list, language: str) -> str:
    return "\n".join(f"- {m}: {answer_line(*ind) if ind else NO_INDICATION[language]}" for m, ind, _ in meds)


@register_builder("medication_review")
def medication_review(record, task, ctx):
    for lang in task_languages(task):
        meds, date = medication_list(record, lang)
        if not meds or not any(ind for _, ind, _ in meds):
            continue
        problems = problem_list(record, meds, date, lang)
        q = prompt("medication_review", lang, who=who(record, date, lang),
                   meds="\n".join(f"- {m}" for m, _, _ in meds),
                   problems="\n".join(f"- {p}" for p in problems))
        ex = base(record, task, parts=[m for _, _, m in meds], language=lang, modality="structured")
        ex.update({"set": "sft", "messages": [{"role": "user", "content": q},
                                              {"role": "assistant", "content": review_answer(meds, lang)}],
                   "answer_codes": sorted({ind[0] for _, ind, _ in meds if ind}),
                   "meds": [[m, list(ind) if ind else None, raw] for m, ind, raw in meds],
                   "problems": problems})
        yield ex


def indication_name(code: str, language: str) -> str:
    return icd10_name(code, language)
