"""Quality stage: annotate every document with signals, then filter by the YAML policy.

Signals are kept on the row (``q_*`` columns) so users can re-filter without recomputing.
Documents the checks are unsure about go to ``review/``; a reviewed file from a previous run
(``review.overrides`` in the config) overrides the automatic decision on the next run.
"""
from __future__ import annotations

from pathlib import Path

import apache_beam as beam
from apache_beam import pvalue

from transforms.base import EVENTS, REJECTED, Filter, Operator


def load_overrides(path: str | None) -> dict:
    if not path:
        return {}
    from transforms.quality.signals import load_review_overrides

    return load_review_overrides(Path(path))


class ScoreDocument(Operator):
    stage = "quality"
    ledger = "documents"

    def __init__(self, policy: dict, overrides: dict):
        super().__init__()
        self.policy = policy
        self.overrides = overrides

    def origin(self, doc):
        return (doc.get("doc_id", ""), "document", doc.get("source_kind", ""))

    def apply(self, doc: dict):
        from transforms.quality.signals import apply_review_overrides, decide, text_signals

        signals = text_signals(doc["text"], doc["language"], doc.get("doc_type") or "default")
        doc["quality"] = signals
        if doc["modality"] == "image":
            keep, reason, review = True, None, False  # captions are short by design; images are checked at deid
        else:
            keep, reason, review = decide(signals, doc.get("doc_type") or "default", self.policy)
        decision = apply_review_overrides(doc["doc_id"], (keep, reason, review), self.overrides)
        keep, reason, review = decision
        side = []
        if review:
            side.append(pvalue.TaggedOutput("review", {
                "id": doc["doc_id"], "split": None, "reason": reason or "uncertain", "text": doc["text"],
                "patient_key": doc.get("patient_key"),
                "decision": None}))
        if not keep:
            raise Filter(reason or "quality", side_outputs=side)
        return side + [doc]


class ScoreDocuments(beam.PTransform):
    """documents -> {"documents", "review", "rejected", "events"}."""

    def __init__(self, ctx):
        super().__init__()
        self.policy = ctx.quality_policy
        self.overrides = load_overrides((ctx.config.get("review") or {}).get("overrides"))

    def expand(self, documents):
        res = documents | "Score" >> beam.ParDo(ScoreDocument(self.policy, self.overrides)).with_outputs(
            "review", REJECTED, EVENTS, main="documents")
        return {"documents": res.documents, "review": res.review, "rejected": res[REJECTED], "events": res[EVENTS]}
