"""Tier stage: match every document against the disease-scenario matrix.

``general`` (no matrix disease), ``specialty`` (a matrix disease matches its ICD-10 codes);
``task`` is given to examples built for a matrix cell (see ``transforms/tasks/stage.py``).
"""
from __future__ import annotations

import apache_beam as beam

from transforms.base import EVENTS, Operator


class TierDocument(Operator):
    stage = "tier"
    ledger = "documents"

    def __init__(self, matrix_path: str):
        super().__init__()
        self.matrix_path = matrix_path
        self.matrix = None

    def setup(self):
        from transforms.tiering.matrix import load_matrix

        self.matrix = load_matrix(self.matrix_path)

    def origin(self, doc):
        return (doc.get("doc_id", ""), "document", doc.get("source_kind", ""))

    def apply(self, doc: dict):
        from transforms.tiering.matrix import classify

        result = classify(doc.get("disease_codes") or [], self.matrix)
        doc["tier"] = result["tier"]
        doc["disease_ids"] = list(result.get("disease_ids") or [])
        doc["scenario_ids"] = list(result.get("scenario_ids") or [])
        doc["task_ids"] = list(result.get("task_ids") or [])
        return [doc]


class TierDocuments(beam.PTransform):
    def __init__(self, ctx):
        super().__init__()
        self.matrix_path = ctx.matrix_path

    def expand(self, documents):
        res = documents | "Classify" >> beam.ParDo(TierDocument(self.matrix_path)).with_outputs(
            "rejected", EVENTS, main="documents")
        return {"documents": res.documents, "events": res[EVENTS], "rejected": res.rejected}
