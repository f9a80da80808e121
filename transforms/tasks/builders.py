"""The shipped task builders. Each turns one de-identified, coded patient record into examples.

Annotation levels: labels derived by rules from coded structured data are ``weak``; imported
expert labels are ``fine``. Prompts come from ``data/prompts.yaml`` in English and Chinese; an
example's language follows its source document.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

from transforms.tasks.registry import register_builder

DATA = Path(__file__).resolve().parent / "data"


@lru_cache(maxsize=1)
def prompts() -> dict:
    return yaml.safe_load((DATA / "prompts.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def reference_ranges() -> dict:
    return yaml.safe_load((DATA / "reference_ranges.yaml").read_text(encoding="utf-8"))["ranges"]


def example_id(task_id: str, patient_key: str | None, *parts: str) -> str:
    return "x-" + hashlib.sha256("\x1f".join([task_id, patient_key or "", *parts]).encode()).hexdigest()[:24]


def _display(cc: dict | None) -> str:
    if not isinstance(cc, dict):
        return ""
    for c in cc.get("coding") or []:
        if c.get("display"):
            return c["display"]
    return cc.get("text") or ""


def _ref(resource: dict, field: str) -> str | None:
    v = resource.get(field)
    if isinstance(v, list):
        v = v[0] if v else None
    return v.get("reference") if isinstance(v, dict) else None


def icd10_name(code: str, language: str = "en", fallback: str = "") -> str:
    """The one display of an ICD-10 code in ``language`` (transforms.terminology.displays), so a
    diagnosis reads the same in every example whichever coding or map it came from."""
    from transforms.terminology.displays import icd10_display

    return icd10_display(code, language) or icd10_display(code, "en") or fallback or code


def condition_icd10(res: dict, language: str = "en") -> tuple[str, str] | None:
    """(ICD-10 code, preferred display) of a Condition: direct coding or the SNOMED map."""
    from transforms.terminology.codesystems import SYSTEMS
    from transforms.terminology.maps import code_map

    for c in (res.get("code") or {}).get("coding") or []:
        if SYSTEMS.get(c.get("system", "")) in ("ICD-10-CM", "ICD-10", "ICD-10-CN") and c.get("code"):
            return c["code"], icd10_name(c["code"], language, c.get("display") or "")
        row = code_map().get((c.get("system") or "", str(c.get("code") or "")))
        if row and row.get("target_code"):
            return row["target_code"], icd10_name(row["target_code"], language,
                                                  row.get("target_display") or c.get("display") or "")
    return None


def _msg(prompt: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def _base(record, task, ctx, *, parts, language, source_kind="fhir", modality="text") -> dict:
    return {"example_id": example_id(task["id"], record.get("patient_key"), *parts),
            "patient_key": record.get("patient_key"), "language": language, "source_kind": source_kind,
            "modality": modality, "disease_codes": list(record.get("disease_codes") or []), "images": []}


# ------------------------------------------------------------------------------------------ builders
@register_builder("note_to_diagnoses")
def note_to_diagnoses(record, task, ctx):
    """Note -> diagnoses with ICD-10 codes; labels from the coded Conditions of the note's encounter
    (or, for notes with no coded record, from non-negated text concepts)."""
    from transforms.terminology.concepts import preferred_display

    by_encounter: dict[str, dict[str, dict[str, str]]] = {}
    for res in record.get("resources") or []:
        if res.get("resourceType") == "Condition":
            enc = _ref(res, "encounter")
            for lang in ("en", "zh"):
                got = condition_icd10(res, lang)
                if got and enc:
                    by_encounter.setdefault(lang, {}).setdefault(enc, {})[got[0]] = got[1]
    for doc in sorted(record.get("documents") or [], key=lambda d: d["doc_id"]):
        if doc.get("modality") != "text" or doc.get("doc_type") not in ("clinical_note", "discharge_summary", None):
            continue
        lang = doc["language"] if doc["language"] in ("en", "zh") else "en"
        if lang not in task.get("languages", ["en", "zh"]):
            continue
        labels = by_encounter.get(lang, {}).get(doc.get("encounter") or "", {})
        if not labels and doc.get("text_codes"):
            labels = {c: icd10_name(c, lang, preferred_display(c, lang) or c) for c in doc["text_codes"]}
        if not labels:
            continue
        answer = "\n".join(f"{code} - {name}" for code, name in sorted(labels.items()))
        ex = _base(record, task, ctx, parts=[doc["doc_id"]], language=lang, source_kind=doc.get("source_kind", "fhir"))
        ex.update({"set": "sft", "messages": _msg(prompts()["note_to_diagnoses"][lang].format(note=doc["text"]), answer),
                   "labels": sorted(labels)})
        yield ex


def _status(loinc: str, value: float, res: dict) -> str | None:
    for interp in res.get("interpretation") or []:
        for c in interp.get("coding") or []:
            code = (c.get("code") or "").upper()
            if code in ("H", "HH", "HU"):
                return "high"
            if code in ("L", "LL", "LU"):
                return "low"
            if code == "N":
                return "normal"
    for rr in res.get("referenceRange") or []:
        lo = (rr.get("low") or {}).get("value")
        hi = (rr.get("high") or {}).get("value")
        if lo is not None or hi is not None:
            return "low" if lo is not None and value < lo else "high" if hi is not None and value > hi else "normal"
    rng = reference_ranges().get(loinc)
    if rng:
        return "low" if value < rng[0] else "high" if value > rng[1] else "normal"
    return None


@register_builder("lab_interpretation")
def lab_interpretation(record, task, ctx):
    """Latest lab/vital panel (same date, at least three known analytes) -> high/low/normal per result."""
    panels: dict[str, list] = {}
    obs = [r for r in record.get("resources") or [] if r.get("resourceType") == "Observation"]
    for res in obs:
        q = res.get("valueQuantity") or {}
        loinc = next((c.get("code") for c in (res.get("code") or {}).get("coding") or []
                      if c.get("system") == "http://loinc.org"), None)
        if not isinstance(q.get("value"), (int, float)) or not loinc:
            continue
        status = _status(loinc, float(q["value"]), res)
        if status is None:
            continue
        date = str(res.get("effectiveDateTime") or "")[:10]
        panels.setdefault(date, []).append((_display(res.get("code")), q["value"], q.get("unit") or q.get("code") or "",
                                            status, loinc))
    for date in sorted((d for d, p in panels.items() if len(p) >= 3), reverse=True)[:1]:
        rows = sorted(panels[date])
        panel = "\n".join(f"- {name}: {value:g} {unit}" for name, value, unit, _, _ in rows)
        answer = "\n".join(f"- {name}: {value:g} {unit} ({status})" for name, value, unit, status, _ in rows)
        ex = _base(record, task, ctx, parts=[date, *[r[4] for r in rows]], language="en", modality="structured")
        ex.update({"set": "sft", "messages": _msg(prompts()["lab_interpretation"]["en"].format(panel=panel), answer)})
        yield ex


@register_builder("imaging_report")
def imaging_report(record, task, ctx):
    """Image + request -> findings/impression; the label is the report linked to the study."""
    for img in sorted(record.get("images") or [], key=lambda i: i["image_id"]):
        if not img.get("report_text"):
            continue
        prompt = prompts()["imaging_report"]["en"].format(
            modality=img.get("modality") or "", body_part=(img.get("body_part") or "").lower(),
            request=img.get("description") or "imaging study")
        ex = _base(record, task, ctx, parts=[img["image_id"]], language="en", source_kind="dicom",
                   modality="multimodal")
        ex.update({"set": "sft", "messages": _msg(prompt, img["report_text"]), "images": [img["image"]]})
        yield ex


@register_builder("medication_review")
def medication_review(record, task, ctx):
    """Medication list + conditions -> indication of each medication (weak: reasonReference)."""
    resources = record.get("resources") or []
    conditions = {f"Condition/{r['id']}": _display(r.get("code")) for r in resources
                  if r.get("resourceType") == "Condition" and r.get("id")}
    meds = []
    for r in resources:
        if r.get("resourceType") != "MedicationRequest":
            continue
        name = _display(r.get("medicationCodeableConcept"))
        reason = _ref(r, "reasonReference")
        meds.append((name, conditions.get(reason or "") or _display((r.get("reasonCode") or [None])[0])))
    meds = sorted(set(m for m in meds if m[0]))[:12]
    if not meds or not any(ind for _, ind in meds):
        return
    problems = "\n".join(f"- {c}" for c in sorted(set(conditions.values())) if c)
    answer = "\n".join(f"- {m}: {ind or 'no documented indication'}" for m, ind in meds)
    ex = _base(record, task, ctx, parts=[m for m, _ in meds], language="en", modality="structured")
    ex.update({"set": "sft", "messages": _msg(prompts()["medication_review"]["en"].format(
        meds="\n".join(f"- {m}" for m, _ in meds), problems=problems or "- none recorded"), answer)})
    yield ex


@register_builder("discharge_summary")
def discharge_summary(record, task, ctx):
    """Timeline -> discharge-style summary prompt; the structured facts are the reference (evaluation)."""
    resources = record.get("resources") or []
    encs = sorted((str((r.get("period") or {}).get("start", ""))[:10], _display((r.get("type") or [None])[0]))
                  for r in resources if r.get("resourceType") == "Encounter")
    dx = sorted({f"{c[0]} {c[1]}" for r in resources if r.get("resourceType") == "Condition"
                 for c in [condition_icd10(r)] if c})
    meds = sorted({_display(r.get("medicationCodeableConcept")) for r in resources
                   if r.get("resourceType") == "MedicationRequest"} - {""})
    if not encs or not dx:
        return
    timeline = "\n".join([f"Encounter {d}: {t}" for d, t in encs[-8:]])
    reference = "Diagnoses: " + "; ".join(dx) + ("\nMedications: " + "; ".join(meds[:10]) if meds else "") + \
        f"\nEncounters: {len(encs)} (last {encs[-1][0]})"
    prompt = prompts()["discharge_summary"]["en"].format(timeline=timeline + "\nDiagnoses recorded: " + "; ".join(dx))
    ex = _base(record, task, ctx, parts=[encs[-1][0], *dx], language="en", modality="structured")
    ex.update({"set": "evaluation", "messages": _msg(prompt, reference), "reference": reference})
    yield ex


# ------------------------------------------------------------------------------ preference pairs
SIBLINGS = ["I10", "E11", "J45", "K21", "M54", "F32", "N39", "R51", "E78", "J06", "I48", "G43"]


def corrupt(answer: str, key: str, language: str) -> tuple[str, str] | None:
    """One clinically meaningful, recorded corruption of a grounded answer (deterministic by key)."""
    import re

    h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    lines = [l for l in answer.splitlines() if l.strip()]
    kinds = ["wrong_code", "negation_flipped", "hallucinated_finding"]
    if re.search(r"\b(left|right)\b", answer, re.I):
        kinds.append("wrong_laterality")
    if re.search(r"\d+(?:\.\d+)?\s*(mg|g|mL|mmol/L|mg/dL)\b", answer):
        kinds.append("wrong_unit_or_dose")
    kind = kinds[h % len(kinds)]
    if kind == "wrong_code":
        for i, line in enumerate(lines):
            m = re.match(r"([A-Z]\d\d)(\S*)(.*)", line)
            if m:
                new = next(s for s in SIBLINGS[h % len(SIBLINGS):] + SIBLINGS if s[0] != m[1][0] or s[:2] != m[1][:2])
                lines[i] = new + m[3]
                return "\n".join(lines), kind
        kind = "hallucinated_finding"
    if kind == "negation_flipped":
        i = h % len(lines)
        lines[i] = ("否认" if language == "zh" else "No ") + lines[i].lstrip("- ")
        return "\n".join(lines), kind
    if kind == "wrong_laterality":
        swapped = re.sub(r"\b(left|right)\b", lambda m: {"left": "right", "right": "left"}[m[1].lower()], answer,
                         count=1, flags=re.I)
        return swapped, kind
    if kind == "wrong_unit_or_dose":
        m = re.search(r"(\d+(?:\.\d+)?)\s*(mg|g|mL|mmol/L|mg/dL)\b", answer)
        value = float(m[1]) * 10
        return answer[:m.start()] + f"{value:g} {m[2]}" + answer[m.end():], kind
    extra = "R91 - 肺结节" if language == "zh" else "R91 - Lung nodule (not in the record)"
    return answer + "\n" + extra.replace(" (not in the record)", ""), "hallucinated_finding"


@register_builder("preference_corruption")
def preference_corruption(record, task, ctx):
    """chosen = the grounded answer of a note_to_diagnoses example; rejected = one recorded corruption."""
    grounded = list(note_to_diagnoses(record, {**task, "id": task["id"] + ":source"}, ctx))
    for src in grounded:
        prompt = src["messages"][0]["content"]
        chosen = src["messages"][-1]["content"]
        bad = corrupt(chosen, src["example_id"], src["language"])
        if not bad or bad[0] == chosen:
            continue
        ex = _base(record, task, ctx, parts=[src["example_id"]], language=src["language"],
                   source_kind=src["source_kind"])
        ex.update({"set": "preference", "prompt": prompt, "chosen": chosen, "rejected": bad[0], "corruption": bad[1]})
        yield ex


def examples_from_labels(lines: list[dict], source: str = "labels") -> list[dict]:
    """Imported expert labels / preference rankings (fine annotation) from JSONL objects."""
    out = []
    for obj in lines:
        base = {"example_id": "x-" + hashlib.sha256(f"{source}\x1f{obj.get('id')}".encode()).hexdigest()[:24],
                "patient_key": obj.get("patient_key"), "language": obj.get("language") or "en",
                "annotation_level": "fine", "task_id": obj.get("task_id") or "imported_labels",
                "builder": "imported_labels", "source_kind": "text", "modality": "text", "images": [],
                "disease_codes": obj.get("disease_codes") or [], "tier": "task"}
        if obj.get("chosen") and obj.get("rejected"):
            base.update({"set": "preference", "prompt": obj.get("prompt") or "", "chosen": obj["chosen"],
                         "rejected": obj["rejected"], "corruption": None})
        elif obj.get("messages"):
            base.update({"set": "sft", "messages": obj["messages"]})
        elif obj.get("prompt") and obj.get("response"):
            base.update({"set": "sft", "messages": _msg(obj["prompt"], obj["response"])})
        else:
            continue
        out.append(base)
    return out
