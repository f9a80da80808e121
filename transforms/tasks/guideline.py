"""QA over guideline and literature text: closed-book cloze questions on its key statements.

A statement (one sentence of a guideline or literature document) with a threshold, interval, dose or
drug in it becomes a question with that span blanked; the span is the answer. The question is asked
without the passage, so the reference is never in the prompt; the examples and the document share a
split group, so a document whose statements are evaluation questions is held out of pretraining.
"""
from __future__ import annotations

import re

from transforms.tasks.common import base, prompt, table
from transforms.tasks.registry import register_builder

DOC_TYPES = ("document", "guideline", "literature")
_NUM_EN = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirty|sixty)"
_EN_SPANS = re.compile(
    rf"(?:at or above |below |above |under |less than |more than |smaller than |at least )?"
    rf"(?:\d+/\d+\s*mmHg|{_NUM_EN}(?:\s+(?:to|or)\s+{_NUM_EN})?\s*(?:mmHg|mmol/L|mg/dL|%|mm|millimetres|millimeters|"
    rf"grams|months|years|weeks|days))", re.I)
_ZH_SPANS = re.compile(r"[≥≤<>]?\d+(?:\.\d+)?(?:/\d+)?\s*(?:mmol/L|mg/dL|%|mmHg|mm|个月|年|周|天|克|g)")
_EN_SENT = re.compile(r"(?<=[.!?])\s+")
_ZH_SENT = re.compile(r"(?<=[。！？；])")
BLANK = "____"


_PATIENT = re.compile(r"\b(?:patient|pt|mrn|dob)\b|患者|病案号|住院号|门诊号|受检者", re.I)


def statements(text: str, language: str) -> list[str]:
    """Sentences of guidance: a document that speaks of a patient is a note, not guidance."""
    if _PATIENT.search(text):
        return []
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    parts = _ZH_SENT.split(body) if language == "zh" else _EN_SENT.split(body)
    return [p.strip() for p in parts if 8 <= len(p.strip()) <= 400]


def drug_terms(language: str) -> list[str]:
    drugs = table("drugs.yaml")
    names = [v["zh"] for v in drugs["drugs"].values()] if language == "zh" else list(drugs["drugs"])
    names += [v[language] for v in drugs["classes"].values()]
    return sorted(set(names), key=len, reverse=True)


def cloze(statement: str, language: str) -> tuple[str, str] | None:
    """(statement with one span blanked, the span) or None."""
    m = (_ZH_SPANS if language == "zh" else _EN_SPANS).search(statement)
    if m is None:
        for term in drug_terms(language):
            idx = statement.lower().find(term.lower()) if language == "en" else statement.find(term)
            if idx >= 0:
                return _blank(statement, idx, idx + len(term))
        return None
    return _blank(statement, m.start(), m.end())


def _blank(statement: str, start: int, end: int) -> tuple[str, str] | None:
    span = statement[start:end].strip()
    blanked = statement[:start] + BLANK + statement[end:]
    if not span or span.lower() in blanked.lower():
        return None  # the answer must not be readable elsewhere in the question
    return blanked, span


@register_builder("guideline_cloze", kind="document")
def guideline_cloze(doc, task, ctx):
    lang = doc.get("language")
    if doc.get("patient_key") or doc.get("doc_type") not in DOC_TYPES or lang not in (task.get("languages") or []):
        return
    for n, sentence in enumerate(statements(doc.get("text") or "", lang)):
        got = cloze(sentence, lang)
        if not got:
            continue
        question, answer = got
        ex = base({"patient_key": None}, task, parts=[doc["doc_id"], str(n)], language=lang,
                  source_kind=doc.get("source_kind", "text"))
        ex.update({"set": "sft", "messages": [{"role": "user", "content": prompt("guideline_cloze", lang,
                                                                                   statement=question)},
                                              {"role": "assistant", "content": answer}],
                   "split_group": "doc:" + (doc.get("dedup_cluster") or doc["doc_id"]),
                   "inputs": list(doc.get("inputs") or [])})
        yield ex
