"""Pre-consultation triage and multi-turn consultations built from a recorded visit.

Triage: the presenting complaint (how a patient puts the visit's diagnosis, ``data/triage.yaml``) with
age, sex and the visit's vital signs -> the care setting the record shows, the department that sees
the diagnosis and the working diagnosis with its ICD-10 code. Chinese notes with a chief complaint
(主诉) and a diagnosis the text affirms give Chinese triage examples.

Consultation: the patient opens with the complaint, the assistant asks for conditions and medicines,
the patient answers from the record, the assistant names the working diagnosis and what was done.
"""
from __future__ import annotations

import re

from transforms.tasks.common import answer_line, base, chat, diagnosis, icd10_name, ref_id, resources, table, \
    task_languages, who, prompts
from transforms.tasks.labs import analyte_name, quantities
from transforms.tasks.medications import drug_name
from transforms.tasks.registry import register_builder

_ZH_COMPLAINT = re.compile(r"主诉[：:]\s*([^。；\n]{2,40})")
LABELS = {"en": ("Care setting", "Department", "Working diagnosis"), "zh": ("就诊场所", "科室", "初步诊断")}
VITALS = ("8480-6", "8462-4", "8867-4", "9279-1", "8310-5", "2708-6")


def complaint(code: str, language: str) -> str | None:
    return ((table("triage.yaml")["complaints"].get(code.replace(".", "")[:3]) or {}).get(language))


def department(code: str, language: str) -> str | None:
    from transforms.tiering.matrix import icd10_matches

    for row in table("triage.yaml")["departments"]:
        if any(icd10_matches(p, code) for p in row["icd10"]):
            return row[language]
    return None


def setting(encounter: dict, language: str) -> str | None:
    key = (encounter.get("class") or {}).get("code") or ""
    types = " ".join(c.get("display") or "" for t in encounter.get("type") or [] for c in t.get("coding") or [])
    if key == "AMB" and "urgent care" in types.lower():
        key = "URGENT"
    return (table("triage.yaml")["settings"].get(key) or {}).get(language)


def visits(record: dict, language: str):
    """(encounter, date, working diagnosis (code, name)) of visits whose diagnosis has a lay complaint."""
    by_enc: dict[str, list] = {}
    for res in resources(record, "Condition"):
        got = diagnosis(res, language)
        if got and ref_id(res, "encounter") and complaint(got[0], language):
            by_enc.setdefault(ref_id(res, "encounter"), []).append(got)
    for enc in sorted(resources(record, "Encounter"), key=lambda r: str((r.get("period") or {}).get("start", ""))):
        found = sorted(by_enc.get(str(enc.get("id"))) or [])
        if found:
            yield enc, str((enc.get("period") or {}).get("start", ""))[:10], found[0]


def _vitals(record: dict, enc_id: str, language: str) -> str:
    found = {}
    for res in resources(record, "Observation"):
        if ref_id(res, "encounter") != enc_id:
            continue
        for date, loinc, disp, value, unit, node in quantities({"resources": [res]}):
            name = analyte_name(loinc, disp, language)
            if loinc in VITALS and name:
                found[loinc] = f"{name} {round(value, 1):g} {unit.replace('mm[Hg]', 'mmHg').replace('Cel', '°C')}".strip()
    if not found:
        return ""
    items = [found[k] for k in VITALS if k in found]
    return (" Vital signs: " + ", ".join(items) + ".") if language == "en" else ("生命体征：" + "，".join(items) + "。")


def triage_answer(code: str, name: str, place: str | None, language: str) -> str:
    a, b, c = LABELS[language]
    lines = ([f"{a}: {place}"] if place else []) + [f"{b}: {department(code, language)}", f"{c}: {answer_line(code, name)}"]
    return "\n".join(lines)


@register_builder("triage")
def triage(record, task, ctx):
    for lang in task_languages(task):
        for enc, date, (code, name) in list(visits(record, lang))[-3:]:
            if not department(code, lang):
                continue
            person = who(record, date, lang)
            q = prompts()["triage"][lang].format(who=person, who_cap=person[0].upper() + person[1:],
                                                 complaint=complaint(code, lang),
                                                 vitals=_vitals(record, str(enc.get("id")), lang))
            ex = base(record, task, parts=[str(enc.get("id")), date], language=lang)
            ex.update({"set": "sft", "messages": chat(q, triage_answer(code, name, setting(enc, lang), lang)),
                       "answer_codes": [code]})
            yield ex
    # Chinese notes with a chief complaint and an affirmed diagnosis
    for doc in sorted(record.get("documents") or [], key=lambda d: d["doc_id"]):
        m = _ZH_COMPLAINT.search(doc.get("text") or "") if doc.get("language") == "zh" else None
        codes = [c for c in doc.get("text_codes") or [] if department(c, "zh")]
        if not m or not codes or "zh" not in task_languages(task):
            continue
        code = sorted(codes)[0]
        person = who(record, doc.get("date"), "zh")
        q = prompts()["triage"]["zh"].format(who=person, who_cap=person, complaint=m[1], vitals="")
        ex = base(record, task, parts=[doc["doc_id"]], language="zh", source_kind=doc.get("source_kind", "text"))
        ex.update({"set": "sft", "messages": chat(q, triage_answer(code, icd10_name(code, "zh"), None, "zh")),
                   "answer_codes": [code]})
        yield ex


def _history(record: dict, date: str, exclude: str, language: str) -> str:
    from transforms.tasks.medications import medication_list

    chronic = sorted({got[1].split(",")[0] for res in resources(record, "Condition") for got in [diagnosis(res, language)]
                      if got and got[0] != exclude and not res.get("abatementDateTime")
                      and str(res.get("onsetDateTime") or "")[:10] < date})
    meds, _ = medication_list(record, language, limit=5)
    if not chronic and not meds:
        return prompts()["consultation"][language]["no_history"]
    if language == "zh":
        parts = (["我有" + "、".join(chronic[:5])] if chronic else ["没有慢性病"]) + \
            (["在吃" + "、".join(m for m, _, _ in meds)] if meds else ["没有长期吃药"])
        return "，".join(parts) + "。"
    parts = (["I have " + _and([c.lower() for c in chronic[:5]])] if chronic else ["I have no long-term conditions"]) + \
        (["I take " + _and([m for m, _, _ in meds])] if meds else ["I take no regular medicines"])
    return "; ".join(parts) + "."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@register_builder("consultation")
def consultation(record, task, ctx):
    for lang in task_languages(task):
        p = prompts()["consultation"][lang]
        for enc, date, (code, name) in list(visits(record, lang))[-2:]:
            enc_id = str(enc.get("id"))
            given = sorted({drug_name(m, lang) or "" for req in resources(record, "MedicationRequest")
                            if ref_id(req, "encounter") == enc_id
                            for m in [(req.get("medicationCodeableConcept") or {}).get("text")
                                      or next((c.get("display") for c in (req.get("medicationCodeableConcept") or {})
                                               .get("coding") or [] if c.get("display")), "")] if m} - {""})
            if lang == "zh":
                opening = f"最近{complaint(code, lang)}。"
                plan = f"这类情况通常的处理包括：{'、'.join(given)}。" if given else ""
                dx = f"{name}（{code}）"
            else:
                opening = f"I've had {complaint(code, lang)}."
                plan = f" It is usually treated with {', '.join(given)}." if given else ""
                dx = f"{name.split(',')[0].lower()} ({code}: {name})"
            turns = chat(p["open"].format(who=who(record, date, lang), complaint=opening), p["ask"],
                         p["history"].format(history=_history(record, date, code, lang)),
                         p["assess"].format(diagnosis=dx, plan=plan))
            ex = base(record, task, parts=[str(enc.get("id")), date], language=lang)
            ex.update({"set": "sft", "messages": turns, "answer_codes": [code]})
            yield ex
