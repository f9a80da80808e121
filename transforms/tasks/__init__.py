"""Task builders: SFT, preference and evaluation examples for the matrix cells a patient fills."""
from __future__ import annotations

from transforms.tasks import builders as _builders  # noqa: F401 - registers the shipped builders
from transforms.tasks.registry import BUILDERS, register_builder


def build_examples_for_record(record: dict, matrix, ctx: dict | None = None) -> list[dict]:
    """Every example the matrix's tasks produce for one patient, quotas applied deterministically."""
    from transforms.tiering.matrix import classify, tasks_for

    cls = classify(record.get("disease_codes") or [], matrix)
    out = []
    for task in tasks_for(cls["disease_ids"], matrix):
        builder = BUILDERS.get(task["builder"])
        if builder is None:
            continue
        examples = sorted(builder(record, task, ctx or {}), key=lambda e: e["example_id"])
        quota = int((task.get("quota") or {}).get("max", 1000))
        for ex in examples[:quota]:
            ex.update({"task_id": task["id"], "builder": task["builder"], "sets": list(task["sets"]),
                       "disease_ids": list(task.get("disease_ids") or []), "scenario_ids": [task["scenario"]],
                       "tier": "task", "annotation_level": task.get("annotation_level", "weak")})
            out.append(ex)
    return out


__all__ = ["build_examples_for_record", "register_builder", "BUILDERS"]
