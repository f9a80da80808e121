"""Radiology: report generation from an image and its real report; impression from a report's findings.

An image is paired only with a real radiology report of the same patient: a report document
(``doc_type`` report) with findings and an impression, dated the study's day. A visit note is never
used as an image's report. Findings -> impression examples come from the same reports, with or
without images, in the report's language; the answer adds the ICD-10 code of what the impression
affirms (clinical context applies: "no nodule" codes nothing).
"""
from __future__ import annotations

import re

from transforms.tasks.common import answer_line, base, icd10_name, prompt, task_languages
from transforms.tasks.registry import register_builder

_EN = re.compile(r"findings?\s*[:：]\s*(?P<findings>.+?)\s*impression\s*[:：]\s*(?P<impression>.+?)"
                 r"(?:\s*(?:dictated|reported|signed|electronically signed)\b.*)?$", re.I | re.S)
_ZH = re.compile(r"(?P<exam>[^。：:]{0,12}(?:CT|MRI|MR|DR|X线|超声|B超)[^。：:]{0,6})[：:]\s*(?P<findings>.+?)\s*"
                 r"(?:印象|诊断意见|结论)\s*[：:]\s*(?P<impression>.+?)(?:\s*(?:报告医师|审核医师|报告医生).*)?$", re.S)
_EN_EXAM = re.compile(r"\b((?:CT|MRI|MR|X-ray|radiograph|ultrasound|PET-CT)\b[^.,\n:]{0,40})", re.I)
LABEL = {"en": "Code", "zh": "编码"}


def parse_report(text: str, language: str) -> dict | None:
    """{exam, findings, impression} of a radiology report, or None when it has no such sections."""
    if language == "zh":
        m = _ZH.search(text)
        if not m:
            return None
        return {"exam": m["exam"].strip(" ，,。"), "findings": m["findings"].strip(), "impression": m["impression"].strip()}
    m = _EN.search(text)
    if not m:
        return None
    exam = _EN_EXAM.search(text[:m.start()] or text)
    return {"exam": exam[1].strip() if exam else "imaging study", "findings": m["findings"].strip(),
            "impression": m["impression"].strip()}


def reports(record: dict):
    for doc in sorted(record.get("documents") or [], key=lambda d: d["doc_id"]):
        lang = doc.get("language")
        if doc.get("modality") == "text" and doc.get("doc_type") == "report" and lang in ("en", "zh"):
            parsed = parse_report(doc.get("text") or "", lang)
            if parsed and parsed["findings"] and parsed["impression"]:
                yield doc, lang, parsed


def impression_codes(impression: str, language: str) -> list[str]:
    from transforms.terminology.categories import is_diagnosis
    from transforms.terminology.stage import text_codes

    return [c for c in text_codes(impression, language) if is_diagnosis(c)]


def coded_impression(impression: str, language: str) -> tuple[str, list[str]]:
    codes = impression_codes(impression, language)
    lines = [impression] + [f"{LABEL[language]}: {answer_line(c, icd10_name(c, language))}" for c in codes]
    return "\n".join(lines), codes


@register_builder("report_impression")
def report_impression(record, task, ctx):
    for doc, lang, parsed in reports(record):
        if lang not in task_languages(task):
            continue
        answer, codes = coded_impression(parsed["impression"], lang)
        ex = base(record, task, parts=[doc["doc_id"]], language=lang, source_kind=doc.get("source_kind", "text"))
        ex.update({"set": "sft", "answer_codes": codes, "source_doc": doc["doc_id"],
                   "messages": [{"role": "user", "content": prompt("report_impression", lang, exam=parsed["exam"],
                                                                   findings=parsed["findings"])},
                                {"role": "assistant", "content": answer}]})
        yield ex


@register_builder("imaging_report")
def imaging_report(record, task, ctx):
    """Image + request -> findings and impression; the label is the study's own radiology report."""
    found = list(reports(record))
    for img in sorted(record.get("images") or [], key=lambda i: i["image_id"]):
        match = [(doc, lang, parsed) for doc, lang, parsed in found
                 if doc.get("date") and img.get("study_date") and doc["date"][:10] == img["study_date"][:10]]
        for doc, lang, parsed in match[:1]:
            if lang not in task_languages(task):
                continue
            impression, codes = coded_impression(parsed["impression"], lang)
            head = ("Findings: " if lang == "en" else "所见：") + parsed["findings"]
            answer = head + "\n" + ("Impression: " if lang == "en" else "印象：") + impression
            q = prompt("imaging_report", lang, modality=img.get("modality") or "",
                       body_part=(img.get("body_part") or "").lower(), request=img.get("description") or parsed["exam"])
            ex = base(record, task, parts=[img["image_id"]], language=lang, source_kind="dicom", modality="multimodal")
            ex.update({"set": "sft", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": answer}],
                       "images": [img["image"]], "answer_codes": codes, "source_doc": doc["doc_id"]})
            yield ex
