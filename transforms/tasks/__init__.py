"""Task builders: SFT, preference and evaluation examples for the matrix cells a patient fills.

Cell-true: a builder says which ICD-10 codes its answer is about (``answer_codes``); an example
belongs to the matrix diseases those codes fall under, and a disease-specific task keeps only the
examples whose answer is about its disease. An example's ``disease_ids`` / ``disease_codes`` are
those of its answer, not of the patient's whole record.
"""
from __future__ import annotations

from transforms.tasks import builders as _builders  # noqa: F401 - registers the shipped builders
from transforms.tasks.registry import BUILDERS, KINDS, register_builder


def _task_context(task: dict, matrix) -> dict:
    patterns = {d["id"]: list(d.get("icd10") or []) for d in matrix.diseases}
    return {**task, "disease_patterns": patterns}


def _finish(ex: dict, task: dict, matrix) -> dict | None:
    from transforms.tiering.matrix import diseases_for

    codes = sorted(set(ex.pop("answer_codes", None) or []))
    about = sorted(d["id"] for d in diseases_for(codes, matrix))
    if task["disease"] != "*" and task["disease"] not in about:
        return None
    ex.update({"task_id": task["id"], "builder": task["builder"], "sets": list(task["sets"]),
               "disease_ids": about, "disease_codes": sorted({c.replace(".", "")[:3] for c in codes}),
               "answer_codes": codes, "scenario_ids": [task["scenario"]], "tier": "task",
               "specific": task["disease"] != "*",
               "annotation_level": task.get("annotation_level", "weak")})
    return ex


def _run(builder, item, task: dict, matrix, ctx: dict, on_error=None) -> list[dict]:
    try:
        built = [_finish(ex, task, matrix) for ex in builder(item, _task_context(task, matrix), ctx)]
    except Exception as exc:  # noqa: BLE001 - a user builder may raise anything
        if on_error is None:
            raise
        on_error(task, task["builder"], exc)
        return []
    quota = int((task.get("quota") or {}).get("max", 1000))
    out = []
    for lang in sorted({ex["language"] for ex in built if ex}):  # the quota holds per language
        out += sorted((ex for ex in built if ex and ex["language"] == lang), key=lambda e: e["example_id"])[:quota]
    return out


def build_examples_for_record(record: dict, matrix, ctx: dict | None = None, on_error=None) -> list[dict]:
    """Every example the matrix's record tasks produce for one patient, quotas applied deterministically.

    With ``on_error(task, builder_name, exc)``, an exception in one builder call is handed to it and
    the other builders still run (the task stage counts it as a reject); without, it propagates."""
    from transforms.tiering.matrix import classify, tasks_for

    cls = classify(record.get("disease_codes") or [], matrix)
    out = []
    for task in tasks_for(cls["disease_ids"], matrix):
        builder = BUILDERS.get(task["builder"])
        if builder is not None and KINDS.get(task["builder"], "record") == "record":
            out += _run(builder, record, task, matrix, ctx or {}, on_error)
    return out


def build_examples_for_document(doc: dict, matrix, ctx: dict | None = None) -> list[dict]:
    """Examples of the matrix's document tasks (guideline / literature QA) for one standalone document."""
    out = []
    for task in matrix.tasks:
        builder = BUILDERS.get(task["builder"])
        if builder is not None and KINDS.get(task["builder"]) == "document" and task["disease"] == "*":
            out += _run(builder, doc, {**task, "disease_ids": [], "disease_names": {}}, matrix, ctx or {})
    return out


from transforms.tasks.plugin import chat, new_example  # noqa: E402 - the public helper API

__all__ = ["build_examples_for_record", "build_examples_for_document", "register_builder", "BUILDERS", "chat",
           "new_example"]
