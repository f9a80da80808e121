"""Structured records become text: each patient's readable summary (``records.summary_text``) is a
pretraining document (``doc_type`` record_summary, English and, where every name has a Chinese form,
Chinese), counted in the ``documents`` ledger under the stage ``linearise``."""
from __future__ import annotations

import apache_beam as beam

from transforms.base import EVENTS, OUT, event


class _Linearise(beam.DoFn):
    def process(self, record: dict):
        from transforms.tasks.records import linearised_documents

        try:
            docs = linearised_documents(record)
        except Exception as exc:  # noqa: BLE001 - a summary is optional; never lose the run
            yield event("linearise", "linearise", "error", type(exc).__name__, "fhir")
            return
        for doc in docs:
            yield event("documents", "linearise", OUT, "", "fhir")
            yield doc
        from transforms.heap import freeze_loaded_heap

        freeze_loaded_heap("linearise")  # the ICD-10 tree and unit tables are loaded by now


class LineariseRecords(beam.PTransform):
    """records -> {"documents", "events"}."""

    def expand(self, records):
        res = records | "Summaries" >> beam.ParDo(_Linearise()).with_outputs(EVENTS, main="documents")
        return {"documents": res.documents, "events": res[EVENTS]}
