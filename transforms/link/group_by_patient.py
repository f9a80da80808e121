"""Link units to patients and group every unit of a patient together, in Beam.

* FHIR resources carry ``patient_ref`` (resolved at read time within their bundle, or from a
  ``Patient/123`` reference in NDJSON).
* Text documents (``patient_id``) and DICOM instances (``PatientID``) are matched against every
  ``Patient.id`` and ``Patient.identifier`` value by a CoGroupByKey join; a value that matches no
  FHIR patient forms a patient of its own (``ext:<value>``), so a person known only from notes
  or images is still grouped and pseudonymised consistently.
* Finally one CoGroupByKey brings each patient's FHIR, text and DICOM units together.

Reference-only resources (Organization, Practitioner, Location, Provenance..., or a resource about
a Group or Device) are counted as filtered (``reference_resource``); a resource whose patient
reference is malformed was already rejected at read time (``transforms.io.fhir_refs``); resources
that point at a patient who is not in the input are rejected (``reference_to_missing_patient``). Text without a patient is passed on as a standalone
document (guidelines, textbooks, literature, QA sets feed the pretraining tier).
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from transforms.base import EVENTS, FILTERED, IN, OUT, REJECT, REJECTED, event, rejected_row

STAGE = "link"


def _sort_key(unit: dict):
    return (unit.get("source", ""), unit.get("position", ""), unit.get("doc_id", ""), unit.get("sop_uid", ""))


class _RouteUnit(beam.DoFn):
    """Split units into keyed FHIR units, link requests (text/DICOM) and standalone text."""

    def __init__(self, identifier_systems: list[str] | None = None):
        super().__init__()
        self.identifier_systems = list(identifier_systems or [])

    def _identifiers(self, patient: dict) -> list[str]:
        from transforms.io.fhir_refs import normalize_id, patient_identifiers

        if not self.identifier_systems:
            return patient_identifiers(patient)
        idents = patient.get("identifier")
        values = (normalize_id(i.get("value"))[0] for i in (idents if isinstance(idents, list) else [])
                  if isinstance(i, dict) and isinstance(i.get("system"), str) and i["system"] in self.identifier_systems)
        return sorted({v for v in values if v})

    def process(self, unit: dict):
        kind = unit.get("kind")
        if kind == "fhir":
            resource = unit["resource"]
            ref = unit.get("patient_ref")
            if ref:
                ref = str(ref)  # ids are normalised to strings at read time; never compare str with int here
                yield pvalue.TaggedOutput("fhir", (ref, unit))
                if resource.get("resourceType") == "Patient":
                    for value in sorted(set(self._identifiers(resource)) | {ref}):
                        yield pvalue.TaggedOutput("index", (value, ref))
            else:
                yield event("units", STAGE, IN, "", kind)
                yield event("units", STAGE, FILTERED, "reference_resource", kind)
        elif kind == "text":
            pid = unit.get("patient_id")
            if pid:
                yield pvalue.TaggedOutput("link", (str(pid), unit))
            else:
                yield event("units", STAGE, IN, "", kind)
                yield event("units", STAGE, OUT, "", kind)
                yield pvalue.TaggedOutput("standalone", unit)
        elif kind == "dicom":
            pid = unit.get("link_id") or ("study:" + unit["study_uid"])
            yield pvalue.TaggedOutput("link", (str(pid), unit))


def _resolve_links(item):
    value, grouped = item
    patients = sorted(set(grouped["index"]))
    target = patients[0] if patients else "ext:" + value
    for unit in grouped["link"]:
        yield target, unit


class _AssembleRecord(beam.DoFn):
    def process(self, item):
        patient_id, grouped = item
        fhir = sorted(grouped["fhir"], key=_sort_key)
        texts = sorted(grouped["text"], key=_sort_key)
        dicom = sorted(grouped["dicom"], key=_sort_key)
        has_patient = any(u["resource"].get("resourceType") == "Patient" for u in fhir)
        if fhir and not has_patient:
            for u in fhir:
                yield event("units", STAGE, IN, "", "fhir")
                yield event("units", STAGE, REJECT, "reference_to_missing_patient", "fhir")
                yield pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), "fhir", STAGE, "reference_to_missing_patient",
                    f"{u['resource'].get('resourceType', 'resource')} refers to a patient that is not in the input"))
            fhir = []
            if not texts and not dicom:
                return
            patient_id = "ext:" + patient_id
        for u in fhir + texts + dicom:
            yield event("units", STAGE, IN, "", u["kind"])
            yield event("units", STAGE, OUT, "", u["kind"])
        yield {"patient_id": patient_id, "resources": fhir, "texts": texts, "dicom": dicom}


class GroupByPatient(beam.PTransform):
    """units -> {"records", "standalone", "rejected", "events"}.

    ``identifier_systems``: when given, only Patient.identifier values with these systems (plus
    Patient.id) link DICOM PatientID and note patient ids to a FHIR patient.
    """

    def __init__(self, identifier_systems: list[str] | None = None):
        super().__init__()
        self.identifier_systems = identifier_systems

    def expand(self, units):
        routed = units | "Route" >> beam.ParDo(_RouteUnit(self.identifier_systems)).with_outputs(
            "fhir", "index", "link", "standalone", EVENTS, main="unused")
        resolved = (
            {"index": routed.index, "link": routed.link}
            | "JoinIdentifiers" >> beam.CoGroupByKey()
            | "ResolvePatient" >> beam.FlatMap(_resolve_links)
        )
        texts = resolved | "OnlyText" >> beam.Filter(lambda kv: kv[1]["kind"] == "text")
        dicom = resolved | "OnlyDicom" >> beam.Filter(lambda kv: kv[1]["kind"] == "dicom")
        assembled = (
            {"fhir": routed.fhir, "text": texts, "dicom": dicom}
            | "GroupPatient" >> beam.CoGroupByKey()
            | "Assemble" >> beam.ParDo(_AssembleRecord()).with_outputs(REJECTED, EVENTS, main="records")
        )
        events = (routed[EVENTS], assembled[EVENTS]) | "LinkEvents" >> beam.Flatten()
        return {"records": assembled.records, "standalone": routed.standalone,
                "rejected": assembled[REJECTED], "events": events}
