"""Note -> the diagnoses the patient has now, with ICD-10 codes (weak labels).

Labels: the clinical Conditions recorded at the note's encounter, plus the concepts the note's own
text says the patient has now (clinical context, ``transforms.context``), each coded with the
patient's recorded Condition of that category when one is active on the note's date. Social,
administrative and status findings are not diagnoses and never appear in an answer.
"""
from __future__ import annotations

from transforms.tasks.common import (answer_line, base, diagnosis, icd10_name, prompt, ref, resources,
                                     task_languages)
from transforms.tasks.registry import register_builder

NOTE_TYPES = ("clinical_note", "discharge_summary", None)


def _active_on(res: dict, date: str | None) -> bool:
    if not date:
        return True
    onset = str(res.get("onsetDateTime") or res.get("recordedDate") or "")[:10]
    ended = str(res.get("abatementDateTime") or "")[:10]
    return (not onset or onset <= date[:10]) and (not ended or ended >= date[:10])


def note_labels(record: dict, doc: dict, language: str) -> dict[str, str]:
    """{ICD-10 code: display} of the diagnoses a note supports."""
    from transforms.terminology.categories import is_diagnosis

    conditions = resources(record, "Condition")
    labels: dict[str, str] = {}
    enc = doc.get("encounter")
    for res in conditions:
        if enc and ref(res, "encounter") == enc:
            got = diagnosis(res, language)
            if got:
                labels[got[0]] = got[1]
    covered = {c.replace(".", "")[:3] for c in labels}
    for cat in doc.get("text_codes") or []:
        if cat in covered or not is_diagnosis(cat):
            continue
        coded = sorted(got for res in conditions if _active_on(res, doc.get("date"))
                       for got in [diagnosis(res, language)] if got and got[0].replace(".", "")[:3] == cat)
        code, name = coded[0] if coded else (cat, icd10_name(cat, language))
        labels[code] = name
    return labels


def notes(record: dict):
    for doc in sorted(record.get("documents") or [], key=lambda d: d["doc_id"]):
        if doc.get("modality") == "text" and doc.get("doc_type") in NOTE_TYPES:
            yield doc


@register_builder("note_to_diagnoses")
def note_to_diagnoses(record, task, ctx):
    """Note -> diagnoses with ICD-10 codes, in the note's language."""
    for doc in notes(record):
        lang = doc["language"] if doc["language"] in ("en", "zh") else "en"
        if lang not in task_languages(task):
            continue
        labels = note_labels(record, doc, lang)
        if not labels:
            continue
        answer = "\n".join(answer_line(code, name) for code, name in sorted(labels.items()))
        ex = base(record, task, parts=[doc["doc_id"]], language=lang, source_kind=doc.get("source_kind", "fhir"))
        ex.update({"set": "sft", "messages": [{"role": "user", "content": prompt("note_to_diagnoses", lang,
                                                                                   note=doc["text"])},
                                              {"role": "assistant", "content": answer}],
                   "answer_codes": sorted(labels), "source_doc": doc["doc_id"]})
        yield ex
