"""Give every diagnosis of a patient an ICD-10 category, recording how it was obtained."""
from __future__ import annotations

from collections import Counter

from transforms.terminology.categories import condition_category
from transforms.terminology.codesystems import normalize_coding
from transforms.terminology.maps import code_map

DIAGNOSIS_FIELDS = {"Condition": ["code"], "Encounter": ["reasonCode"], "Claim": ["diagnosis"],
                    "ExplanationOfBenefit": ["diagnosis"]}


def _codings(resource: dict) -> list[dict]:
    out = []
    for field in DIAGNOSIS_FIELDS.get(resource.get("resourceType"), []):
        value = resource.get(field)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                continue
            cc = item.get("diagnosisCodeableConcept", item)
            out += [c for c in (cc.get("coding") or []) if isinstance(c, dict)]
    return out


def annotate_patient_codes(resources: list[dict], extra_maps: tuple[str, ...] = ()) -> dict:
    table = code_map(extra_maps)
    codes: set[str] = set()
    evidence: list[dict] = []
    stats: Counter = Counter()
    unmapped: Counter = Counter()
    for res in resources:
        rtype = res.get("resourceType")
        if rtype not in DIAGNOSIS_FIELDS:
            continue
        if rtype == "Condition":
            stats["conditions"] += 1
        got = None
        unmapped_source = None
        for coding in _codings(res):
            n = normalize_coding(coding.get("system"), coding.get("code"), coding.get("display"))
            stats[f"{n['system_name']}.{'valid' if n['valid_format'] else 'invalid'}"] += 1
            if n["icd10_category"] and n["exists"] is not False:
                got = got or (n["icd10_category"], "direct")
            elif n["system_name"] == "SNOMED-CT" or n["system_name"] == "unknown":
                row = table.get((coding.get("system") or "", n["code"]))
                if row and row.get("target_code"):
                    got = got or (row["target_code"].replace(".", "")[:3].upper(), "mapped-from-snomed")
                elif n["system_name"] == "SNOMED-CT":
                    unmapped[n["code"]] += 1
                    unmapped_source = unmapped_source or (row or {}).get("map_source")
        if got:
            codes.add(got[0])
            evidence.append({"code": got[0], "path": got[1], "resource_type": rtype})
            if rtype == "Condition":
                stats["conditions_with_icd10"] += 1
        elif rtype == "Condition":
            stats["conditions_without_icd10"] += 1
        if rtype == "Condition":  # the coverage target counts clinical conditions only
            kind = condition_category(got[0] if got else None, unmapped_source)
            stats[f"conditions_{kind}"] += 1
            if kind == "clinical" and got:
                stats["conditions_clinical_with_icd10"] += 1
    unique_evidence = sorted({(e["code"], e["path"], e["resource_type"]) for e in evidence})
    return {"disease_codes": sorted(codes),
            "disease_evidence": [{"code": c, "path": p, "resource_type": r} for c, p, r in unique_evidence],
            "coding_stats": dict(stats), "unmapped": dict(unmapped)}


def encounter_codes(resources: list[dict], extra_maps: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """{encounter reference: ICD-10 categories of the clinical Conditions recorded at it}."""
    from transforms.terminology.categories import is_diagnosis

    table = code_map(extra_maps)
    out: dict[str, set[str]] = {}
    for res in resources:
        if res.get("resourceType") != "Condition" or not isinstance(res.get("encounter"), dict):
            continue
        enc = res["encounter"].get("reference")
        for coding in _codings(res):
            n = normalize_coding(coding.get("system"), coding.get("code"), coding.get("display"))
            cat = n["icd10_category"] if n["icd10_category"] and n["exists"] is not False else None
            row = None if cat else table.get((coding.get("system") or "", n["code"]))
            cat = cat or (row["target_code"].replace(".", "")[:3].upper() if row and row.get("target_code") else None)
            if cat and enc and is_diagnosis(cat):
                out.setdefault(enc, set()).add(cat)
                break
    return out
