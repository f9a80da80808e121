"""Recognise and validate codings: ICD-10(-CM), SNOMED CT, LOINC, RxNorm, ATC, UCUM."""
from __future__ import annotations

import re
from functools import lru_cache

SYSTEMS = {
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://terminology.hl7.org/CodeSystem/icd10": "ICD-10",
    "urn:oid:2.16.156.10011.2.3.3.11": "ICD-10-CN",  # China clinical edition (GB/T 14396 based), configurable
    "http://snomed.info/sct": "SNOMED-CT",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.whocc.no/atc": "ATC",
    "http://unitsofmeasure.org": "UCUM",
}
ICD10_RE = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
ATC_RE = re.compile(r"^[A-Z](?:\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?)?$")

_VERHOEFF_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
               [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
               [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
               [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_VERHOEFF_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
               [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
               [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def verhoeff_ok(code: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(code)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def snomed_ok(code: str) -> bool:
    return code.isdigit() and 6 <= len(code) <= 18 and code[0] != "0" and verhoeff_ok(code)


def loinc_ok(code: str) -> bool:
    """LOINC NNNNN-C with its mod-10 check digit."""
    m = re.fullmatch(r"(\d{1,7})-(\d)", code)
    if not m:
        return False
    digits = m[1]
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10 == int(m[2])


@lru_cache(maxsize=50_000)
def icd10cm_exists(code: str) -> bool:
    import simple_icd_10_cm as cm

    return cm.is_valid_item(code)


def icd10_category(code: str) -> str | None:
    c = code.strip().upper().replace(".", "")
    return c[:3] if ICD10_RE.match(code.strip().upper()) else None


def normalize_coding(system: str | None, code: str | None, display: str | None = None) -> dict:
    name = SYSTEMS.get(system or "", "unknown")
    code = (code or "").strip()
    flags: list[str] = []
    valid, exists, category = False, None, None
    if not code:
        flags.append("missing_code")
    elif name in ("ICD-10-CM", "ICD-10", "ICD-10-CN"):
        valid = bool(ICD10_RE.match(code.upper()))
        category = icd10_category(code) if valid else None
        if valid and name == "ICD-10-CM":
            exists = icd10cm_exists(code)
    elif name == "SNOMED-CT":
        valid = snomed_ok(code)
    elif name == "LOINC":
        valid = loinc_ok(code)
    elif name == "RxNorm":
        valid = code.isdigit() and len(code) <= 10
    elif name == "ATC":
        valid = bool(ATC_RE.match(code))
    elif name == "UCUM":
        from transforms.terminology.units import ucum_valid

        valid = ucum_valid(code)
    else:
        flags.append("unknown_system")
    if code and name != "unknown" and not valid:
        flags.append("invalid_format")
    if exists is False:
        flags.append("not_in_table")
    return {"system": system, "system_name": name, "code": code, "display": display, "valid_format": valid,
            "exists": exists, "icd10_category": category, "flags": flags}
