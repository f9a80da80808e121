"""Task stage: build SFT, preference and evaluation examples for the matrix cells a patient fills.

For each de-identified, coded patient record, the matrix gives the diseases it belongs to and
the tasks of those rows; the registered builders turn the record into examples, each labelled
with its annotation level, ``tier = task`` and its cell (disease ids, scenario, task id).
"""
from __future__ import annotations

import importlib

import apache_beam as beam

from transforms.base import EVENTS, OUT, Operator


class BuildForRecord(Operator):
    stage = "tasks"
    ledger = "patients"

    def __init__(self, matrix_path: str, builder_modules: list[str]):
        super().__init__()
        self.matrix_path = matrix_path
        self.builder_modules = list(builder_modules)
        self.matrix = None

    def setup(self):
        from transforms.tiering.matrix import load_matrix

        self.matrix = load_matrix(self.matrix_path)
        for mod in self.builder_modules:
            importlib.import_module(mod)

    def origin(self, record):
        return (record.get("patient_key", ""), "patient", "fhir")

    def apply(self, record: dict):
        from transforms.tasks import build_examples_for_record

        outs = []
        for ex in build_examples_for_record(record, self.matrix):
            outs.append(ex)
            outs.append(event_out(ex))
        return outs


def event_out(ex: dict):
    from transforms.base import event

    return event("examples", "tasks", OUT, ex.get("task_id") or "", ex.get("set") or "")


class BuildExamples(beam.PTransform):
    """de-identified records -> {"examples", "rejected", "events"}."""

    def __init__(self, ctx):
        super().__init__()
        self.matrix_path = ctx.matrix_path
        self.builder_modules = list((ctx.config.get("tasks") or {}).get("builders") or [])

    def expand(self, records):
        res = records | "Build" >> beam.ParDo(BuildForRecord(self.matrix_path, self.builder_modules)).with_outputs(
            "rejected", EVENTS, main="examples")
        return {"examples": res.examples, "rejected": res.rejected, "events": res[EVENTS]}
