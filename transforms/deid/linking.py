"""One person, one pseudonym and one date shift in every modality of a ``medcorpus deid`` run.

``build`` links notes and images to FHIR patients with a join (``transforms.link``); ``deid``
writes files, not patient records, so it first indexes every FHIR Patient of the run (a pass over
the inputs) and then resolves each note's ``patient_id`` and each image's PatientID the same way
``build`` does: a value that is a Patient.id or one of its identifiers (restricted to
``link.identifier_systems`` when set) becomes that patient; any other value forms a person of its
own (``ext:<value>``); an image without a PatientID is its study's person (``ext:study:<uid>``).
So the pseudonym and the date shift of a person are the same in ``build`` and ``deid``, and in
their FHIR, DICOM and notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


def patient_link_values(patient: dict, identifier_systems=()) -> list[str]:
    """The values that link a note or an image to this Patient: its id and identifier values."""
    from transforms.io.fhir_refs import normalize_id

    values = set()
    idents = patient.get("identifier")
    for ident in idents if isinstance(idents, list) else []:
        value = normalize_id(ident.get("value"))[0] if isinstance(ident, dict) else None
        if not value:
            continue
        if identifier_systems and ident.get("system") not in identifier_systems:
            continue
        values.add(value)
    pid = normalize_id(patient.get("id"))[0]
    if pid:
        values.add(pid)
    return sorted(values)


def fhir_units_of(data: bytes, limits=None) -> list[dict]:
    """The units of a FHIR JSON file (Bundle, nested Bundles, a single resource) or NDJSON, read as
    ``build`` reads them (``transforms.io.fhir_parse``: any encoding, limits, ids normalised, patient
    references resolved) but without model validation: this pass only needs ids and links."""
    from transforms.io.fhir_parse import read_fhir

    return [u for u in read_fhir(data, "fhir:index", limits=limits, validate=False).items if not u.get("reject")]


def fhir_resources_of(data: bytes, limits=None) -> Iterator[dict]:
    """Every resource of a FHIR JSON file or NDJSON that ``build`` would keep (see ``fhir_units_of``)."""
    for unit in fhir_units_of(data, limits):
        yield unit["resource"]


def index_entries(data: bytes, identifier_systems=(), limits=None) -> Iterator[tuple[str, tuple]]:
    """("link", (value, patient id)), ("patient", (patient id, Patient)) and ("latest", (patient id,
    latest date)) of one FHIR file, for the run's patient index."""
    from transforms.deid.fhir_deid import DATE_RE

    for unit in fhir_units_of(data, limits):
        res, pid = unit["resource"], unit.get("patient_ref")
        if not pid:
            continue
        if res.get("resourceType") == "Patient":
            yield "patient", (pid, res)
            for value in patient_link_values(res, identifier_systems):
                yield "link", (value, pid)
        latest = max((v[:10] for v in _strings(res) if len(v) >= 10 and DATE_RE.match(v)), default=None)
        if latest:
            yield "latest", (pid, latest)


def _strings(node):
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, str):
            yield n


@dataclass
class Linker:
    """The run's patient index: link value -> patient id, patient id -> Patient and latest date."""

    links: dict = field(default_factory=dict)
    patients: dict = field(default_factory=dict)
    latest: dict = field(default_factory=dict)
    max_days: int = 365
    age_cap: int = 89

    def person(self, value: str) -> str:
        """The person a note's patient_id or an image's PatientID (or ``study:<uid>``) belongs to."""
        value = str(value).strip()
        return self.links.get(value) or "ext:" + value

    def patient(self, person: str) -> dict | None:
        return self.patients.get(person)

    def over_age(self, person: str) -> bool:
        from transforms.deid.known import over_age_at

        return over_age_at(self.patients.get(person), self.latest.get(person), self.age_cap)

    def known(self, person: str, dicom_datasets=()):
        from transforms.deid.known import known_phi_for_patient

        return known_phi_for_patient(self.patient(person), self.over_age(person), dicom_datasets, self.age_cap)
