"""Preference pairs: chosen = a grounded answer; rejected = one plausible near miss, its kind recorded.

The near misses come from the record and the terminology, never from a fixed string:

* ``sibling_code`` — a diagnosis replaced by a sibling ICD-10 code with that code's own correct name;
* ``missed_diagnosis`` — one diagnosis of a multi-diagnosis answer left out;
* ``unsupported_diagnosis`` — a diagnosis the patient has elsewhere in the record added to this note's;
* ``wrong_lab_direction`` — one result's high / low / normal call flipped;
* ``wrong_indication`` — a medication given an indication from the record that the drug does not have;
* ``same_class_drug`` — a medication replaced by another drug of its class;
* ``wrong_laterality`` — left and right swapped in a report's impression.

Which applicable kind a pair gets is decided by a hash of its source example (deterministic).
"""
from __future__ import annotations

import hashlib
import re

from transforms.tasks.common import answer_line, base, diagnosis, has_zh_name, icd10_name, resources
from transforms.tasks.registry import BUILDERS, register_builder

_LINE = re.compile(r"^(?P<code>[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?) - (?P<name>.+)$")
_STATUS = {"en": ("high", "low", "normal"), "zh": ("偏高", "偏低", "正常")}


def _h(key: str, salt: str = "") -> int:
    return int(hashlib.sha256(f"{key}\x1f{salt}".encode()).hexdigest(), 16)


# ------------------------------------------------------------------------------------ codes
def sibling_code(code: str, key: str, language: str) -> str | None:
    """A sibling of ``code`` in ICD-10-CM at the same level (same parent; a category's block), whose
    own name differs in ``language``."""
    import simple_icd_10_cm as cm

    try:
        if not cm.is_valid_item(code):
            return None
        full = len(code.replace(".", "")) > 3
        if language == "zh":  # Chinese names are per category: the sibling must be another category
            cat = cm.get_parent(code) if full else code
            while full and len(cat.replace(".", "")) > 3:
                cat = cm.get_parent(cat)
            cats = [c for c in cm.get_children(cm.get_parent(cat)) if c != cat and has_zh_name(c)]
            if not cats:
                return None
            pick = cats[_h(key, "sib") % len(cats)]
            if full:
                leaves = sorted(d for d in cm.get_descendants(pick) if cm.is_leaf(d))
                pick = leaves[_h(key, "leaf") % len(leaves)] if leaves else pick
            return pick
        cands = [c for c in cm.get_children(cm.get_parent(code)) if c != code and not cm.is_chapter_or_block(c)]
        if not cands:
            return None
        pick = cands[_h(key, "sib") % len(cands)]
        while full and not cm.is_leaf(pick):
            pick = cm.get_children(pick)[0]
        return pick
    except Exception:  # noqa: BLE001 - a code outside ICD-10-CM has no siblings here
        return None


def _coded_lines(answer: str) -> list[tuple[int, re.Match]]:
    return [(i, m) for i, line in enumerate(answer.splitlines()) for m in [_LINE.match(line.strip())] if m]


def dx_corruptions(answer: str, record: dict, key: str, language: str) -> dict[str, str]:
    lines = answer.splitlines()
    coded = _coded_lines(answer)
    out: dict[str, str] = {}
    if not coded:
        return out
    i, m = coded[_h(key, "line") % len(coded)]
    sib = sibling_code(m["code"], key, language)
    if sib:
        new = list(lines)
        new[i] = answer_line(sib, icd10_name(sib, language))
        out["sibling_code"] = "\n".join(sorted(new))
    if len(coded) >= 2:
        out["missed_diagnosis"] = "\n".join(l for j, l in enumerate(lines) if j != i)
    present = {mm["code"].replace(".", "")[:3] for _, mm in coded}
    others = sorted({got for res in resources(record, "Condition") for got in [diagnosis(res, language)]
                     if got and got[0].replace(".", "")[:3] not in present})
    if others:
        extra = others[_h(key, "extra") % len(others)]
        out["unsupported_diagnosis"] = "\n".join(sorted(lines + [answer_line(*extra)]))
    return out


# ------------------------------------------------------------------------------------ labs
def lab_corruptions(answer: str, key: str, language: str) -> dict[str, str]:
    high, low, normal = _STATUS[language]
    lines = answer.splitlines()
    idx = [i for i, l in enumerate(lines) if any(f"({s}" in l or f"（{s}" in l for s in _STATUS[language])]
    if not idx:
        return {}
    i = idx[_h(key, "lab") % len(idx)]
    line = lines[i]
    for s, flips in ((high, [normal, low]), (low, [normal, high]), (normal, [high, low])):
        for opener in ("(", "（"):
            if opener + s in line:
                new = flips[0] if _h(key, "flip") % 3 else flips[1]
                lines[i] = line.replace(opener + s, opener + new, 1)
                return {"wrong_lab_direction": "\n".join(lines)}
    return {}


# ------------------------------------------------------------------------------------ medications
def med_corruptions(ex: dict, record: dict, key: str, language: str) -> dict[str, str]:
    from transforms.tasks.medications import NO_INDICATION, drug_class, drugs, ingredients

    meds = ex.get("meds") or []
    with_ind = [j for j, (_, ind, _) in enumerate(meds) if ind]
    if not with_ind:
        return {}
    out: dict[str, str] = {}

    def render(items):
        return "\n".join(f"- {m}: {answer_line(*ind) if ind else NO_INDICATION[language]}" for m, ind, _ in items)

    j = with_ind[_h(key, "med") % len(with_ind)]
    name, ind, raw = meds[j]
    found = ingredients(raw)
    allowed = set(drugs()["drugs"][found[0]]["indications"]) if found else set()
    others = sorted({got for res in resources(record, "Condition") for got in [diagnosis(res, language)]
                     if got and got[0].replace(".", "")[:3] not in allowed and got[0] != ind[0]})
    if others:
        wrong = [list(x) for x in meds]
        wrong[j][1] = others[_h(key, "ind") % len(others)]
        out["wrong_indication"] = render(wrong)
    cls = drug_class(raw)
    if cls and len(found) == 1:  # a combination product has no same-class twin
        mates = sorted(k for k, v in drugs()["drugs"].items() if v["class"] == cls and k not in found)
        if mates:
            mate = mates[_h(key, "mate") % len(mates)]
            mate_en = mate.capitalize() if raw[:1].isupper() else mate
            new_name = re.sub(re.escape(found[0]), mate_en, raw, count=1, flags=re.I) if language == "en" else \
                name.replace(drugs()["drugs"][found[0]]["zh"], drugs()["drugs"][mate]["zh"], 1)
            swapped = [list(x) for x in meds]
            swapped[j][0] = new_name
            out["same_class_drug"] = render(swapped)
    return out


# ------------------------------------------------------------------------------------ reports
_SIDES = {"en": (("left", "right"), ("right", "left")), "zh": (("左", "右"), ("右", "左"))}


def report_corruptions(answer: str, language: str) -> dict[str, str]:
    for a, b in _SIDES[language]:
        pattern = rf"\b{a}\b" if language == "en" else a
        if re.search(pattern, answer, re.I):
            return {"wrong_laterality": re.sub(pattern, lambda m: b if m[0].islower() else b.capitalize(),
                                               answer, count=1, flags=re.I)}
    return {}


def corruptions(ex: dict, record: dict, source: str) -> dict[str, str]:
    answer = ex["messages"][-1]["content"]
    key, lang = ex["example_id"], ex["language"]
    if source == "note_to_diagnoses":
        return dx_corruptions(answer, record, key, lang)
    if source == "lab_interpretation":
        return lab_corruptions(answer, key, lang)
    if source == "medication_review":
        return med_corruptions(ex, record, key, lang)
    if source == "report_impression":
        return report_corruptions(answer, lang)
    return {}


@register_builder("near_miss_pairs")
def near_miss_pairs(record, task, ctx):
    """chosen = the grounded answer of the task's ``source`` builder; rejected = one near miss."""
    source = task.get("source") or "note_to_diagnoses"
    for src in BUILDERS[source](record, {**task, "id": task["id"] + ":source"}, ctx):
        options = corruptions(src, record, source)
        chosen = src["messages"][-1]["content"]
        options = {k: v for k, v in options.items() if v.strip() and v != chosen}
        if not options:
            continue
        kind = sorted(options)[_h(src["example_id"], "kind") % len(options)]
        ex = base(record, task, parts=[src["example_id"]], language=src["language"],
                  source_kind=src["source_kind"], modality=src.get("modality", "text"))
        ex.update({"set": "preference", "prompt": src["messages"][0]["content"], "chosen": chosen,
                   "rejected": options[kind], "corruption": kind, "answer_codes": src.get("answer_codes") or [],
                   "images": src.get("images") or []})
        yield ex
