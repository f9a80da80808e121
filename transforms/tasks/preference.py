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
from collections import Counter
from functools import lru_cache

from transforms.tasks.common import answer_line, base, diagnosis, has_zh_name, icd10_name, resources
from transforms.tasks.registry import BUILDERS, register_builder

_LINE = re.compile(r"^(?P<code>[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?) - (?P<name>.+)$")
_STATUS = {"en": ("high", "low", "normal"), "zh": ("偏高", "偏低", "正常")}


def _h(key: str, salt: str = "") -> int:
    return int(hashlib.sha256(f"{key}\x1f{salt}".encode()).hexdigest(), 16)


def _words(text: str) -> Counter:
    """Words, numbers, CJK characters and codes of a text (what a bag-of-words reader sees)."""
    return Counter(w.lower() for w in re.findall(r"[A-Za-z]+|\d+(?:\.\d+)?|[\u4e00-\u9fff]", text))


def closest(candidates: list, target: str, key: str, salt: str, text=lambda c: c):
    """The candidate whose text shares the most words with ``target`` and differs least from it in
    length (fewest words in one but not the other); ties broken by a hash of ``key``. A near miss
    that reads like the answer it replaces: its error is in what it says, not in how it looks."""
    want = _words(target)

    def distance(c) -> int:
        got = _words(text(c))
        return sum(((got - want) + (want - got)).values())

    return min(candidates, key=lambda c: (distance(c), _h(f"{key}\x1f{c}", salt))) if candidates else None


# ------------------------------------------------------------------------------------ codes
@lru_cache(maxsize=1)
def familiar_codes() -> frozenset:
    """The ICD-10 codes answers are written in: the targets of the shipped SNOMED map and the codes of
    the concept dictionary. A near miss drawn from them is a code that is also a right answer elsewhere,
    so a wrong code cannot be told from a right one by the code alone."""
    from transforms.terminology.concepts import dictionary
    from transforms.terminology.maps import code_map

    return frozenset({r["target_code"] for r in code_map().values() if r.get("target_code")}
                     | {c["code"] for c in dictionary()["concepts"]})


def _prefer_familiar(*tiers: list[str]) -> list[str]:
    """The familiar codes of the first tier that has any; else the whole first non-empty tier."""
    for tier in tiers:
        known = [c for c in tier if c in familiar_codes()]
        if known:
            return known
    return next((t for t in tiers if t), [])


def sibling_code(code: str, key: str, language: str) -> str | None:
    """A sibling of ``code`` in ICD-10-CM: another code under the same parent, else another familiar code
    of the same category or block (a category's sibling is another category of its block). Familiar
    codes (``familiar_codes``) come first; among the candidates, the one whose own name reads most like
    ``code``'s (``closest``). Its own name differs in ``language``."""
    import simple_icd_10_cm as cm

    def leaves(c: str) -> list[str]:
        return [c] if cm.is_leaf(c) else sorted(d for d in cm.get_descendants(c) if cm.is_leaf(d))

    try:
        if not cm.is_valid_item(code):
            return None
        full = len(code.replace(".", "")) > 3
        cat = code
        while len(cat.replace(".", "")) > 3:
            cat = cm.get_parent(cat)
        block = [c for c in cm.get_children(cm.get_parent(cat)) if c != cat and not cm.is_chapter_or_block(c)]
        if language == "zh":  # Chinese names are per category: the sibling must be another category
            cats = _prefer_familiar([c for c in block if has_zh_name(c)])
            if not cats:
                return None
            pick = closest(cats, icd10_name(cat, "zh"), key, "sib", lambda c: icd10_name(c, "zh"))
            if full:
                below = _prefer_familiar(leaves(pick))
                pick = below[_h(key, "leaf") % len(below)] if below else pick
            return pick
        if full:  # a full code's sibling is a billable code too: the leaves under each sibling
            same_parent = [d for c in cm.get_children(cm.get_parent(code)) for d in leaves(c) if d != code]
            cands = _prefer_familiar(same_parent, [d for d in leaves(cat) if d != code],
                                     [d for c in block for d in leaves(c)])
        else:
            cands = _prefer_familiar(block)
        return closest(sorted(set(cands)), icd10_name(code, language), key, "sib",
                       lambda c: icd10_name(c, language))
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
    if sib and sib not in {mm["code"] for _, mm in coded}:  # never a code the answer already gives
        new = list(lines)
        new[i] = answer_line(sib, icd10_name(sib, language))
        out["sibling_code"] = "\n".join(sorted(new))
    present = {mm["code"].replace(".", "")[:3] for _, mm in coded}
    others = sorted({got for res in resources(record, "Condition") for got in [diagnosis(res, language)]
                     if got and got[0].replace(".", "")[:3] not in present})
    extra = others[_h(key, "extra") % len(others)] if others else None
    if len(coded) < 2:
        if extra:  # one line: the patient's other problem given for this note's, as long as the answer
            out["unsupported_diagnosis"] = answer_line(*extra)
        return out
    # a line left out and a line added are offered together: an answer is as often one line too short
    # as one line too long
    out["missed_diagnosis"] = "\n".join(l for j, l in enumerate(lines) if j != i)
    if extra:
        out["unsupported_diagnosis"] = "\n".join(sorted(lines + [answer_line(*extra)]))
    return out


# ------------------------------------------------------------------------------------ labs
_NUM = r"(-?\d+(?:\.\d+)?)"


def _near_side(line: str) -> int:
    """1 when a result called normal lies nearer its range's upper bound (a near miss calls it high),
    2 when nearer the lower one, 0 when the line gives no range."""
    value = re.search(r":\s*" + _NUM, line)
    both = re.search(_NUM + r"\s*[–-]\s*" + _NUM, line[value.end():] if value else "")
    if value and both:
        v, lo, hi = float(value[1]), float(both[1]), float(both[2])
        return 1 if v - lo >= hi - v else 2
    if "≥" in line:
        return 2
    if "≤" in line:
        return 1
    return 0


def lab_corruptions(answer: str, key: str, language: str) -> dict[str, str]:
    """One result's call changed: an abnormal result called normal (or the other way), or a normal
    result called abnormal on the side of the range it lies nearer. Which way is balanced by a hash of
    the example, so that 'normal', 'high' and 'low' are as often the wrong call as the right one."""
    high, low, normal = _STATUS[language]
    lines = answer.splitlines()
    status = {}
    for i, line in enumerate(lines):
        for s in (high, low, normal):
            if f"({s}" in line or f"（{s}" in line:
                status[i] = s
                break
    if not status:
        return {}
    abnormal = [i for i, s in status.items() if s != normal]
    normals = [i for i, s in status.items() if s == normal]
    if abnormal and (not normals or _h(key, "way") % 2):
        i = abnormal[_h(key, "lab") % len(abnormal)]
        new = normal
    else:
        # called abnormal in the panel's own direction (what an abnormal call in this panel reads like),
        # on a result that lies on that side of its range when there is one
        calls = [status[j] for j in abnormal]
        new = max((high, low), key=lambda s: (calls.count(s), s == high)) if calls else \
            (high, low)[_h(key, "flip") % 2]
        side = 1 if new == high else 2
        near = [j for j in normals if _near_side(lines[j]) in (side, 0)] or normals
        i = near[_h(key, "lab") % len(near)]
    line = lines[i]
    for opener in ("(", "（"):
        if opener + status[i] in line:
            lines[i] = line.replace(opener + status[i], opener + new, 1)
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
    # the wrong indication is first another medication's indication in the same list (the two swapped
    # in the reader's mind), else another of the patient's recorded diagnoses the drug is not given for
    listed = sorted({tuple(m[1]) for m in meds if m[1] and m[1][0] != ind[0]
                     and m[1][0].replace(".", "")[:3] not in allowed})
    others = listed or sorted({got for res in resources(record, "Condition") for got in [diagnosis(res, language)]
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
