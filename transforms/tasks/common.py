"""Shared helpers of the task builders: ids, displays, record access, chat turns, languages.

An example names what its answer is about in ``answer_codes`` (ICD-10 codes written in the answer);
``transforms.tasks.build_examples_for_record`` keeps an example in a disease cell only when those
codes fall under that disease, and sets the example's ``disease_ids`` / ``disease_codes`` from them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data"
LANGUAGES = ("en", "zh")


@lru_cache(maxsize=16)
def table(name: str) -> dict:
    """A shipped YAML table of ``data/`` (prompts, reference ranges, drugs, ...)."""
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def prompts() -> dict:
    return table("prompts.yaml")


def prompt(name: str, language: str, **fields) -> str:
    return prompts()[name][language].format(**fields)


def example_id(task_id: str, patient_key: str | None, *parts: str) -> str:
    return "x-" + hashlib.sha256("\x1f".join([task_id, patient_key or "", *parts]).encode()).hexdigest()[:24]


def display(cc: dict | None) -> str:
    if not isinstance(cc, dict):
        return ""
    for c in cc.get("coding") or []:
        if c.get("display"):
            return c["display"]
    return cc.get("text") or ""


def ref(resource: dict, field: str) -> str | None:
    v = resource.get(field)
    if isinstance(v, list):
        v = v[0] if v else None
    return v.get("reference") if isinstance(v, dict) else None


def icd10_name(code: str, language: str = "en", fallback: str = "") -> str:
    """The one display of an ICD-10 code in ``language`` (transforms.terminology.displays), so a
    diagnosis reads the same in every example whichever coding or map it came from."""
    from transforms.terminology.displays import icd10_display

    return icd10_display(code, language) or icd10_display(code, "en") or fallback or code


def has_zh_name(code: str) -> bool:
    from transforms.terminology.displays import icd10_display

    return bool(icd10_display(code, "zh"))


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


def diagnosis(res: dict, language: str = "en") -> tuple[str, str] | None:
    """``condition_icd10`` for clinical diagnoses only (not social, administrative or status codes)."""
    from transforms.terminology.categories import is_diagnosis

    got = condition_icd10(res, language)
    return got if got and is_diagnosis(got[0]) else None


def answer_line(code: str, name: str) -> str:
    return f"{code} - {name}"


def chat(*turns: str) -> list[dict]:
    """user, assistant, user, assistant, ... turns."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


def ref_id(resource: dict, field: str) -> str | None:
    """The bare id a reference field points to (``Type/id`` and ``urn:uuid:id`` alike)."""
    r = ref(resource, field)
    return r.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if r else None


def resources(record: dict, kind: str) -> list[dict]:
    return [r for r in record.get("resources") or [] if r.get("resourceType") == kind]


def by_id(record: dict, kind: str) -> dict[str, dict]:
    return {str(r["id"]): r for r in resources(record, kind) if r.get("id")}


def task_languages(task: dict) -> list[str]:
    return [lang for lang in LANGUAGES if lang in (task.get("languages") or LANGUAGES)]


def base(record: dict, task: dict, *, parts, language: str, source_kind: str = "fhir",
         modality: str = "text") -> dict:
    return {"example_id": example_id(task["id"], record.get("patient_key"), language, *parts),
            "patient_key": record.get("patient_key"), "language": language, "source_kind": source_kind,
            "modality": modality, "images": [], "answer_codes": []}


def patient_facts(record: dict, on: str | None = None) -> dict:
    """Age (years, '90+' over 89) on a date and administrative sex, from the de-identified Patient."""
    patient = next(iter(resources(record, "Patient")), {})
    sex = patient.get("gender")
    age = None
    birth = str(patient.get("birthDate") or "")[:10]
    try:
        born = dt.date.fromisoformat(birth)
        when = dt.date.fromisoformat(on[:10]) if on else dt.date.today()
        years = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
        age = "90+" if years > 89 else str(max(years, 0))
    except (ValueError, TypeError):
        pass
    return {"age": age, "sex": sex}


SEX = {"en": {"male": "male", "female": "female"}, "zh": {"male": "男", "female": "女"}}


def who(record: dict, on: str | None, language: str) -> str:
    """'a 54-year-old female' / '54岁女性' (no name, no date of birth)."""
    f = patient_facts(record, on)
    sex = SEX[language].get(f["sex"] or "", "")
    if language == "zh":
        return f"{f['age'] + '岁' if f['age'] else ''}{sex + '性' if sex else '患者'}"
    if f["age"]:
        return f"a {f['age']}-year-old {sex or 'patient'}".replace("a 8", "an 8").replace("a 11-", "an 11-")\
            .replace("a 18-", "an 18-")
    return f"a {sex or 'patient'}"
