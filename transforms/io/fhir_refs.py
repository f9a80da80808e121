"""Ids and patient references of raw FHIR resources, robust to any JSON type.

Real exports carry ids that are numbers, objects or lists, and ``subject`` fields that are
strings or lists. Here an id is normalised (a whole number becomes its decimal string) or the
resource is rejected; a resource is keyed to its patient, or is a reference resource, or is
rejected because its patient reference is malformed or cannot be resolved. Never a crash, never
a ``str < int`` comparison further down, never a patient-scoped resource counted as a
reference resource. Problems are ``(kind, message)`` pairs whose messages quote no values.
"""
from __future__ import annotations

REF_FIELDS = ("subject", "patient", "beneficiary", "individual")
#: resources that describe the world, not a patient (never keyed to one)
REFERENCE_ONLY = {"Organization", "Practitioner", "PractitionerRole", "Location", "Medication",
                  "Substance", "HealthcareService", "Endpoint", "ValueSet", "CodeSystem", "StructureDefinition",
                  "Bundle", "Provenance", "Group", "Library", "Questionnaire", "OperationOutcome"}

_JSON_TYPES = {dict: "object", list: "list", bool: "boolean", float: "number", int: "number", str: "string",
               type(None): "null"}


def json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def normalize_id(value) -> tuple[str | None, str | None]:
    """``(id, problem)``: a string id stripped, a whole number as its decimal string, null as no id,
    else a problem."""
    if value is None:
        return None, None
    if isinstance(value, str):
        value = value.strip()
        return (value or None), None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value)), None
    return None, f"a JSON {json_type(value)}, not a string"


def normalize_resource_id(resource: dict) -> tuple[dict, tuple[str, str] | None]:
    """The resource with a string ``id`` (a copy when it changed), or a problem."""
    if "id" not in resource:
        return resource, None
    rid, problem = normalize_id(resource["id"])
    rtype = resource.get("resourceType")
    if problem:
        return resource, ("invalid_id", f"{rtype}.id is {problem}")
    if rid is None:
        res = dict(resource)
        res.pop("id")
        return res, None
    if rid != resource["id"]:
        return {**resource, "id": rid}, None
    return resource, None


def _ref_target(ref: str, full_url_map: dict | None) -> tuple[str, str] | None:
    """(resourceType, id) of a reference, resolving ``urn:uuid:`` via the bundle's fullUrls."""
    if not ref:
        return None
    if full_url_map and ref in full_url_map:
        res = full_url_map[ref]
        rid, _ = normalize_id(res.get("id"))
        return str(res.get("resourceType") or ""), rid or ref.rsplit(":", 1)[-1]
    if ref.startswith("urn:uuid:"):
        return None if full_url_map else ("", ref[len("urn:uuid:"):])
    parts = ref.split("?")[0].rstrip("/").split("/")
    if len(parts) >= 2:
        if len(parts) >= 4 and parts[-2] == "_history":
            return parts[-4], parts[-3]
        return parts[-2], parts[-1]
    return None


def patient_link(resource: dict, full_url_map: dict | None = None, full_url: str | None = None
                 ) -> tuple[str | None, tuple[str, str] | None]:
    """``(patient id, None)``, ``(None, None)`` for a reference resource, or ``(None, (kind, message))``."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rid, problem = normalize_id(resource.get("id"))
        if problem:
            return None, ("invalid_id", f"Patient.id is {problem}")
        if rid:
            return rid, None
        if isinstance(full_url, str) and full_url.startswith("urn:uuid:") and len(full_url) > len("urn:uuid:"):
            return full_url[len("urn:uuid:"):], None
        return None, ("missing_patient_id", "Patient without an id (or a urn:uuid fullUrl): nothing can link to it")
    if rtype in REFERENCE_ONLY:
        return None, None
    problem = None
    about_someone_else = False
    for field in REF_FIELDS:
        if field not in resource:
            continue
        value = resource[field]
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, dict):
                problem = problem or ("invalid_patient_reference",
                                      f"{rtype}.{field} is a JSON {json_type(v)}, not a Reference object")
                continue
            ref = v.get("reference")
            if ref is None:
                problem = problem or ("unlinkable_patient_reference",
                                      f"{rtype}.{field} has no literal reference (identifier or display only)")
                continue
            if not isinstance(ref, str) or not ref.strip():
                problem = problem or ("invalid_patient_reference",
                                      f"{rtype}.{field}.reference is a JSON {json_type(ref)}, not a non-empty string")
                continue
            if ref.strip().startswith("#"):  # a contained resource
                cid = ref.strip()[1:]
                contained = resource.get("contained")
                inner = next((c for c in (contained if isinstance(contained, list) else [])
                              if isinstance(c, dict) and normalize_id(c.get("id"))[0] == cid), None)
                if inner is None:
                    problem = problem or ("invalid_patient_reference",
                                          f"{rtype}.{field}.reference points at a contained resource that is not there")
                elif inner.get("resourceType") == "Patient":
                    problem = problem or ("contained_patient", f"{rtype}.{field} is a Patient contained in the "
                                                               "resource; contained patients are not linked")
                else:
                    about_someone_else = True
                continue
            target = _ref_target(ref.strip(), full_url_map)
            if target is None:
                problem = problem or ("unresolved_patient_reference",
                                      f"{rtype}.{field}.reference does not resolve (not Type/id, or a urn:uuid "
                                      "that is not in its Bundle)")
                continue
            if target[0] in ("Patient", ""):
                if target[1]:
                    return target[1], None
                problem = problem or ("invalid_patient_reference", f"{rtype}.{field}.reference has an empty id")
                continue
            about_someone_else = True  # e.g. a Group, Device or Location subject
    if about_someone_else:
        return None, None
    return None, problem


def patient_ref_of(resource: dict, full_url_map: dict | None, full_url: str | None = None) -> str | None:
    """The id of the patient a resource belongs to, or None for reference-only or unlinkable resources."""
    return patient_link(resource, full_url_map, full_url)[0]


def patient_identifiers(patient: dict) -> list[str]:
    """Identifier values of a Patient, used to link DICOM PatientID and note patient ids."""
    values = []
    idents = patient.get("identifier")
    for ident in idents if isinstance(idents, list) else []:
        if not isinstance(ident, dict):
            continue
        value, _ = normalize_id(ident.get("value"))
        if value:
            values.append(value)
    return sorted(set(values))
