"""The disease-scenario matrix: load and validate the YAML, match ICD-10 codes, tier records."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from pipelines.errors import UserError

DEFAULT = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / "matrix.yaml"
DISEASE_KEYS = {"id", "name_en", "name_zh", "icd10", "parent"}
SCENARIO_KEYS = {"id", "name_en", "name_zh", "group", "modalities"}
TASK_KEYS = {"id", "disease", "scenario", "builder", "sets", "annotation_level", "quota", "languages", "source"}
GROUPS = {"medical_services", "pharmacy_services", "hospital_management", "insurance", "drug_rnd", "education",
          "research", "health_management", "elderly_care"}
SETS = {"sft", "preference", "evaluation"}
LEVELS = {"none", "weak", "fine"}
_CODE = r"[A-Z][0-9][0-9A-Z]"
PATTERN = re.compile(rf"^(?:{_CODE}(?:-{_CODE})?|{_CODE}(?:\.[0-9A-Z]{{0,4}})?\*?|{_CODE}\.\*|chapter:[IVXL]+)$")


class MatrixError(UserError):
    pass


@dataclass
class Matrix:
    version: str
    diseases: list = field(default_factory=list)
    scenarios: list = field(default_factory=list)
    tasks: list = field(default_factory=list)
    blind_spot_min: int = 1


def icd10_matches(pattern: str, code: str) -> bool:
    """Does ICD-10 ``code`` (category or full code, dotted or not) fall under ``pattern``?"""
    c = code.upper().replace(".", "")
    p = pattern.upper()
    if "-" in p and not p.startswith("CHAPTER"):
        lo, hi = p.split("-")
        return lo <= c[:3] <= hi
    if p.endswith(".*"):
        return c.startswith(p[:-2].replace(".", ""))
    if p.endswith("*"):
        return c.startswith(p[:-1].replace(".", ""))
    return c.startswith(p.replace(".", ""))


def _check_keys(item: dict, allowed: set, where: str) -> None:
    if not isinstance(item, dict):
        raise MatrixError(f"matrix {where}: each entry must be a mapping")
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise MatrixError(f"matrix {where} '{item.get('id', '?')}': unknown key '{unknown[0]}'; "
                          f"valid keys: {', '.join(sorted(allowed))}")
    if not item.get("id"):
        raise MatrixError(f"matrix {where}: an entry has no id")


@lru_cache(maxsize=8)
def load_matrix(path: str | Path | None = None) -> Matrix:
    p = Path(path) if path else DEFAULT
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MatrixError(f"matrix file not found: {p}") from None
    except yaml.YAMLError:
        raise MatrixError(f"matrix file is not valid YAML: {p}") from None
    if not isinstance(data, dict):
        raise MatrixError(f"matrix file must hold a mapping: {p}")
    unknown = sorted(set(data) - {"version", "diseases", "scenarios", "tasks", "blind_spot_min"})
    if unknown:
        raise MatrixError(f"matrix: unknown top-level key '{unknown[0]}'; valid keys: blind_spot_min, diseases, "
                          "scenarios, tasks, version")
    if not isinstance(data.get("blind_spot_min", 1), int) or data.get("blind_spot_min", 1) < 0:
        raise MatrixError("matrix: blind_spot_min must be a whole number >= 0")
    diseases, scenarios, tasks = data.get("diseases") or [], data.get("scenarios") or [], data.get("tasks") or []
    for d in diseases:
        _check_keys(d, DISEASE_KEYS, "disease")
        for pat in d.get("icd10") or []:
            if not PATTERN.match(str(pat).upper()):
                raise MatrixError(f"matrix disease '{d['id']}': bad ICD-10 pattern '{pat}'")
    for s in scenarios:
        _check_keys(s, SCENARIO_KEYS, "scenario")
        if s.get("group") not in GROUPS:
            raise MatrixError(f"matrix scenario '{s['id']}': group must be one of {', '.join(sorted(GROUPS))}")
    disease_ids = {d["id"] for d in diseases}
    scenario_ids = {s["id"] for s in scenarios}
    for t in tasks:
        _check_keys(t, TASK_KEYS, "task")
        if t.get("disease") != "*" and t.get("disease") not in disease_ids:
            raise MatrixError(f"matrix task '{t['id']}': unknown disease '{t.get('disease')}'; valid: *, "
                              + ", ".join(sorted(disease_ids)))
        if t.get("scenario") not in scenario_ids:
            raise MatrixError(f"matrix task '{t['id']}': unknown scenario '{t.get('scenario')}'; valid: "
                              + ", ".join(sorted(scenario_ids)))
        if not set(t.get("sets") or []) <= SETS or not t.get("sets"):
            raise MatrixError(f"matrix task '{t['id']}': sets must be a non-empty subset of {', '.join(sorted(SETS))}")
        if t.get("annotation_level", "weak") not in LEVELS:
            raise MatrixError(f"matrix task '{t['id']}': annotation_level must be one of none, weak, fine")
    return Matrix(str(data.get("version", "unversioned")), diseases, scenarios, tasks, int(data.get("blind_spot_min", 1)))


def diseases_for(codes: list[str], matrix: Matrix) -> list[dict]:
    return [d for d in matrix.diseases if any(icd10_matches(p, c) for p in d.get("icd10") or [] for c in codes)]


def classify(disease_codes: list[str], matrix: Matrix) -> dict:
    ds = diseases_for(disease_codes, matrix)
    ids = sorted(d["id"] for d in ds)
    tasks = [t for t in matrix.tasks if t["disease"] in ids]
    return {"tier": "specialty" if ids else "general", "disease_ids": ids,
            "scenario_ids": sorted({t["scenario"] for t in tasks}), "task_ids": sorted(t["id"] for t in tasks)}


def tasks_for(disease_ids: list[str], matrix: Matrix) -> list[dict]:
    names = {d["id"]: {"en": d.get("name_en"), "zh": d.get("name_zh")} for d in matrix.diseases}
    out = []
    for t in matrix.tasks:
        if t["disease"] == "*" or t["disease"] in disease_ids:
            matched = sorted(disease_ids) if t["disease"] == "*" else [t["disease"]]
            out.append({**t, "disease_ids": matched, "disease_names": {d: names.get(d) for d in matched}})
    return out
