"""Whole-record tasks: discharge-style summary (evaluation) and readable patient summary (SFT, and the
same summary as pretraining text: structured records become prose).

The discharge reference asks for work the prompt does not do: the prompt shows the record as recorded
(condition names as the source wrote them, medications, dated results); the reference codes the
diagnoses in ICD-10, gives each medication's indication and names the out-of-range results. Every fact
the reference uses is in the prompt.
"""
from __future__ import annotations

from transforms.tasks.common import (answer_line, base, diagnosis, display, resources, task_languages, who,
                                     prompt, example_id)
from transforms.tasks.labs import interpreted, lab_line
from transforms.tasks.medications import NO_INDICATION, medication_list
from transforms.tasks.registry import register_builder

HEAD = {"en": {"enc": "Encounters", "cond": "Conditions", "meds": "Medications", "labs": "Results", "dx": "Diagnoses",
               "ind": "Medications and indications", "abn": "Results out of range", "none": "none",
               "allergies": "Allergies", "active": "ongoing", "resolved": "resolved", "onset": "onset"},
        "zh": {"enc": "就诊记录", "cond": "疾病记录", "meds": "用药", "labs": "检查结果", "dx": "诊断",
               "ind": "用药及适应证", "abn": "超出参考范围的结果", "none": "无", "allergies": "过敏史",
               "active": "持续", "resolved": "已缓解", "onset": "起病"}}


def _encounters(record: dict) -> list[tuple[str, str]]:
    return sorted((str((r.get("period") or {}).get("start", ""))[:10], display((r.get("type") or [None])[0]))
                  for r in resources(record, "Encounter"))


def _conditions(record: dict, language: str, since: str = ""):
    """[(onset, recorded text, (code, name), resolved)] of clinical Conditions (since a date)."""
    out = []
    for res in resources(record, "Condition"):
        got = diagnosis(res, language)
        onset = str(res.get("onsetDateTime") or "")[:10]
        if got and onset >= since:
            out.append((onset, display(res.get("code")), got, bool(res.get("abatementDateTime"))))
    return sorted(set(out))


@register_builder("discharge_summary")
def discharge_summary(record, task, ctx):
    """The record's last encounters -> coded diagnoses, indications, out-of-range results (evaluation)."""
    encs = _encounters(record)
    if not encs:
        return
    window = encs[-8:]
    since = window[0][0]
    for lang in task_languages(task):
        conds = _conditions(record, lang, since)
        if not conds:
            continue
        meds, _ = medication_list(record, lang)
        panels = interpreted(record, lang)
        last = max((d for d, p in panels.items() if len(p) >= 3), default=None)
        h = HEAD[lang]
        recorded = [f"- {onset}: {text}" for onset, text, _, _ in conds] if lang == "en" else \
            [f"- {onset}: {got[1]}" for onset, _, got, _ in conds]
        parts = [f"{h['enc']}:", *[f"- {d}: {t}" for d, t in window], f"{h['cond']}:", *recorded]
        if meds:
            parts += [f"{h['meds']}:", *[f"- {m}" for m, _, _ in meds]]
        if last:
            parts += [f"{h['labs']} ({last}):", *[lab_line(n, v, None, "", lang) for n, v, _, _, _ in panels[last]]]
        dx = sorted({got for _, _, got, _ in conds})
        ref_lines = [f"{h['dx']}:", *[f"- {answer_line(*g)}" for g in dx]]
        if meds:
            ref_lines += [f"{h['ind']}:", *[f"- {m}: {answer_line(*ind) if ind else NO_INDICATION[lang]}"
                                              for m, ind, _ in meds]]
        if last:
            abnormal = [lab_line(n, v, s, r, lang) for n, v, s, r, _ in panels[last] if s != "normal"]
            ref_lines += [f"{h['abn']}:", *(abnormal or [f"- {h['none']}"])]
        reference = "\n".join(ref_lines)
        q = prompt("discharge_summary", lang, who=who(record, window[-1][0], lang), record="\n".join(parts))
        ex = base(record, task, parts=[window[-1][0], *[g[0] for g in dx]], language=lang, modality="structured")
        codes = sorted({g[0] for g in dx} | {ind[0] for _, ind, _ in meds if ind})
        ex.update({"set": "evaluation", "messages": [{"role": "user", "content": q},
                                                     {"role": "assistant", "content": reference}],
                   "reference": reference, "answer_codes": codes})
        yield ex


# ------------------------------------------------------------------------------ readable summary
def summary_text(record: dict, language: str) -> tuple[str, str, list[str], str] | None:
    """(structured record text, readable summary, ICD-10 codes, date) of a patient, or None."""
    encs = _encounters(record)
    conds = _conditions(record, language)
    if not encs or not conds:
        return None
    date = encs[-1][0]
    meds, _ = medication_list(record, language, limit=8)
    panels = interpreted(record, language)
    last = max((d for d, p in panels.items() if len(p) >= 3), default=None)
    allergies = sorted({display(a.get("code")) for a in resources(record, "AllergyIntolerance")} - {""})
    if language == "zh" and allergies:
        return None  # allergy substances have no Chinese names in the shipped tables
    h = HEAD[language]
    person = who(record, date, language)
    shown = conds[-12:]
    structured = [f"patient: {person}" if language == "en" else f"患者：{person}",
                  f"{h['cond']}:", *[f"- {g[1]} | {g[0]} | {h['onset']} {onset} | {h['resolved'] if res else h['active']}"
                                    for onset, _, g, res in shown]]
    if meds:
        structured += [f"{h['meds']}:", *[f"- {m}" for m, _, _ in meds]]
    if last:
        structured += [f"{h['labs']} {last}:", *[f"- {n} | {v}" for n, v, _, _, _ in panels[last]]]
    structured += [f"{h['allergies']}: {', '.join(allergies) if allergies else h['none']}"]
    # the summary says nothing the structured record does not show
    ongoing = _by_name([g for _, _, g, res in shown if not res][-8:])
    past = _by_name([g for _, _, g, res in shown if res and g[1] not in {n for n, _ in ongoing}][-6:])
    codes = sorted({c for _, cs in ongoing + past for c in cs})
    if language == "zh":
        text = f"{person}。"
        if ongoing:
            text += "目前患有" + "、".join(f"{n}（{'、'.join(cs)}）" for n, cs in ongoing) + "。"
        if past:
            text += "既往曾患" + "、".join(f"{n}（{'、'.join(cs)}）" for n, cs in past) + "，已缓解。"
        if meds:
            text += "目前用药：" + "、".join(m for m, _, _ in meds) + "。"
        if last:
            abnormal = [f"{n} {v}（{'偏高' if s == 'high' else '偏低'}）" for n, v, s, _, _ in panels[last] if s != "normal"]
            text += f"最近一次检查（{last}）" + ("异常结果：" + "、".join(abnormal) + "。" if abnormal else "各项结果均在参考范围内。")
        text += "过敏史：" + ("、".join(allergies) if allergies else "无记录") + "。"
    else:
        text = person[0].upper() + person[1:]
        if ongoing:
            text += " with " + "; ".join(f"{n.lower()} ({', '.join(cs)})" for n, cs in ongoing)
        text += "."
        if past:
            text += " Past, now resolved: " + "; ".join(f"{n.lower()} ({', '.join(cs)})" for n, cs in past) + "."
        if meds:
            text += " Current medications: " + "; ".join(m for m, _, _ in meds) + "."
        if last:
            abnormal = [f"{n} {v} ({s})" for n, v, s, _, _ in panels[last] if s != "normal"]
            text += (f" Latest results ({last}): " + ("; ".join(abnormal) + " out of range." if abnormal
                                                      else "all within their reference ranges."))
        text += " Allergies: " + ("; ".join(allergies) if allergies else "none recorded") + "."
    return "\n".join(structured), text, codes, date


def _by_name(items: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """[(name, [codes])] sorted by name: one entry per name (Chinese names are per category)."""
    names: dict[str, set] = {}
    for code, name in items:
        names.setdefault(name, set()).add(code)
    return [(n, sorted(cs)) for n, cs in sorted(names.items())]


@register_builder("record_summary")
def record_summary(record, task, ctx):
    for lang in task_languages(task):
        got = summary_text(record, lang)
        if not got:
            continue
        structured, text, codes, date = got
        q = prompt("record_summary", lang, who=who(record, date, lang), record=structured)
        ex = base(record, task, parts=[date], language=lang, modality="structured")
        ex.update({"set": "sft", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": text}],
                   "answer_codes": codes})
        yield ex


def linearised_documents(record: dict) -> list[dict]:
    """The readable summary of a patient record as pretraining documents (one per language)."""
    out = []
    for lang in ("en", "zh"):
        got = summary_text(record, lang)
        if not got:
            continue
        _, text, codes, date = got
        pk = record.get("patient_key")
        out.append({"doc_id": "d-" + example_id("record_summary", pk, lang)[2:], "patient_key": pk, "text": text,
                    "language": lang, "doc_type": "record_summary", "source_kind": "fhir", "modality": "text",
                    "date": date, "encounter": None, "image": None, "inputs": [f"patient:{pk}"],
                    "text_codes": [], "disease_codes": sorted({c.replace('.', '')[:3] for c in codes}),
                    "record_signals": record.get("record_signals")})
    return out
