"""Terminology stage: every diagnosis gets an ICD-10 category, every note its text concepts.

Per de-identified patient record: coded Conditions (and other coded diagnoses) are normalised
and mapped to ICD-10 categories (``disease_codes`` with the mapping path in
``disease_evidence``); lab Observations get a canonical UCUM unit and plausibility flags; each
text document carries the clinical codes of its own visit and of its text (so a dental note of a
patient who once had sinusitis is not sinusitis text), and is tagged with the concepts its text says the patient has now (transforms/context: negated,
uncertain, family, hypothetical, screening and past acute mentions excluded)
and carries the patient's codes. Standalone documents get their text concepts only.
Coding statistics (valid/invalid/unmapped by system) go to the ``terminology`` ledger.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from transforms.base import EVENTS, OUT, REJECTED, event, rejected_row

STAGE = "terminology"


def _category(code: str) -> str:
    return code.replace(".", "")[:3].upper()


def text_codes(text: str, language: str) -> list[str]:
    from transforms.terminology.concepts import tag_concepts

    return sorted({_category(m["code"]) for m in tag_concepts(text, language) if m["current"]})


class AnnotateRecord(beam.DoFn):
    def __init__(self, extra_maps: tuple[str, ...] = ()):
        super().__init__()
        self.extra_maps = tuple(extra_maps)

    def process(self, record: dict):
        from transforms.terminology.annotate import annotate_patient_codes
        from transforms.terminology.units import normalize_observation

        try:
            ann = annotate_patient_codes(record["resources"], self.extra_maps)
        except Exception as exc:  # noqa: BLE001 - codes are a quality signal; never lose the patient
            ann = {"disease_codes": [], "disease_evidence": [], "coding_stats": {}}
            yield event("terminology", STAGE, "error", f"annotate_failed:{type(exc).__name__}", "fhir")
        codes = set(ann.get("disease_codes") or [])
        evidence = list(ann.get("disease_evidence") or [])
        for key, n in sorted(_flatten_stats(ann.get("coding_stats") or {}).items()):
            yield event("terminology", STAGE, "count", key, "fhir", n)
        for code, n in sorted((ann.get("unmapped") or {}).items()):
            yield event("terminology", STAGE, "unmapped", code, "fhir", n)
        text_found: set[str] = set()
        for doc in record["documents"]:
            found = text_codes(doc["text"], doc["language"]) if doc["modality"] == "text" else []
            text_found.update(found)
            doc["text_codes"] = found
        for code in sorted(text_found - codes):
            evidence.append({"code": code, "path": "from-text", "resource_type": None})
        all_codes = sorted(codes | text_found)
        observations = []
        for res in record["resources"]:
            if res.get("resourceType") == "Observation":
                try:
                    observations.append(normalize_observation(res))
                except Exception as exc:  # noqa: BLE001
                    yield event("terminology", STAGE, "error", f"observation_failed:{type(exc).__name__}", "fhir")
        for obs in observations:
            for flag in obs.get("flags") or []:
                yield event("terminology", STAGE, "observation_flag", str(flag), "fhir")
            yield event("terminology", STAGE, "observation", "ucum_valid" if obs.get("ucum_valid") else "ucum_invalid",
                        "fhir")
        record["disease_codes"] = all_codes
        record["disease_evidence"] = evidence
        record["observations"] = observations
        from transforms.quality.signals import record_signals

        rec_signals = record_signals(record["resources"], observations, _flatten_stats(ann.get("coding_stats") or {}))
        record["record_signals"] = rec_signals
        from transforms.terminology.annotate import encounter_codes

        by_encounter = encounter_codes(record["resources"], self.extra_maps)
        for doc in record["documents"]:
            # a document is about what was diagnosed at its visit and what its text affirms, not about
            # every condition of the patient's lifetime (which the record keeps for the task builders)
            doc["disease_codes"] = sorted(by_encounter.get(doc.get("encounter") or "", set())
                                          | set(doc.get("text_codes") or [])) if doc["modality"] == "text" else all_codes
            doc["record_signals"] = rec_signals
            yield pvalue.TaggedOutput("documents", doc)
        yield event("patients", STAGE, OUT, "", "")
        yield record
        from transforms.heap import freeze_loaded_heap

        freeze_loaded_heap("terminology")  # the code maps and the UCUM registry are loaded by now


def _flatten_stats(stats: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in stats.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten_stats(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = int(v)
    return out


class AnnotateStandalone(beam.DoFn):
    def process(self, doc: dict):
        try:
            doc["text_codes"] = text_codes(doc["text"], doc["language"])
        except Exception as exc:  # noqa: BLE001
            yield event("terminology", STAGE, "error", f"concepts_failed:{type(exc).__name__}", "text")
            yield pvalue.TaggedOutput(REJECTED, rejected_row(doc.get("doc_id", ""), "document", "text", STAGE,
                                                             f"concepts_failed:{type(exc).__name__}",
                                                             "concept tagging failed; details withheld"))
            doc["text_codes"] = []
        doc["disease_codes"] = list(doc["text_codes"])
        yield doc


class NormalizeTerminology(beam.PTransform):
    """(records, standalone documents) -> {"records", "documents" (all), "rejected", "events"}."""

    def __init__(self, ctx):
        super().__init__()
        self.extra_maps = tuple((ctx.config.get("terminology") or {}).get("maps") or [])

    def expand(self, pcolls):
        records, standalone = pcolls
        res = records | "AnnotateRecords" >> beam.ParDo(AnnotateRecord(self.extra_maps)).with_outputs("documents", EVENTS,
                                                                                       main="records")
        alone = standalone | "AnnotateStandalone" >> beam.ParDo(AnnotateStandalone()).with_outputs(
            REJECTED, EVENTS, main="documents")
        documents = (res.documents, alone.documents) | "AllDocuments" >> beam.Flatten()
        events = (res[EVENTS], alone[EVENTS]) | "TermEvents" >> beam.Flatten()
        return {"records": res.records, "documents": documents, "rejected": alone[REJECTED], "events": events}
