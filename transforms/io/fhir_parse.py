"""Parse FHIR inputs of every real-world shape into units, one per resource.

Shapes: Bundles of any type (collection, transaction, batch, searchset, document, nested),
Bulk Data ``$export`` NDJSON (one resource per line, any type), single-resource JSON; gzip
accepted. Each resource is validated once with ``fhir.resources`` (R4 data with the R4B models,
since fhir.resources has no R4 package; R5 with the default package). ``lenient`` mode keeps an
invalid resource flagged, ``strict`` rejects it (only that entry). Rejects never carry values:
pydantic's ``input`` is dropped and only error locations and types are kept.
"""
from __future__ import annotations

import gzip
import zlib
from functools import lru_cache
from typing import Iterator

import orjson

REF_FIELDS = ("subject", "patient", "beneficiary", "individual")
#: resources that describe the world, not a patient (never keyed to one)
REFERENCE_ONLY = {"Organization", "Practitioner", "PractitionerRole", "Location", "Medication",
                  "Substance", "HealthcareService", "Endpoint", "ValueSet", "CodeSystem", "StructureDefinition",
                  "Bundle", "Provenance", "Group", "Library", "Questionnaire", "OperationOutcome"}


def _reject(source: str, position: str, kind: str, message: str) -> dict:
    return {"reject": True, "source": source, "position": position, "stage": "read", "error_kind": kind,
            "message": message}


def maybe_gunzip(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data


@lru_cache(maxsize=None)
def _model_class(version: str, resource_type: str):
    if version in ("R4", "R4B"):
        from fhir.resources.R4B import get_fhir_model_class
    else:
        from fhir.resources import get_fhir_model_class
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def known_resource_type(version: str, resource_type: str) -> bool:
    return isinstance(resource_type, str) and _model_class(version, resource_type) is not None


def validate_resource(resource: dict, version: str) -> list[str]:
    """Validation problems as ``location: type`` strings (no values); empty when valid."""
    cls = _model_class(version, resource.get("resourceType"))
    if cls is None:
        return ["resourceType: unknown"]
    try:
        cls.model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError and friends
        errors = getattr(exc, "errors", None)
        if callable(errors):
            try:
                return [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('type', 'invalid')}"
                        for e in errors(include_input=False, include_url=False)][:10]
            except TypeError:
                return [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('type', 'invalid')}" for e in errors()][:10]
        return [f"model: {type(exc).__name__}"]
    return []


def _unit(resource: dict, source: str, position: str, version: str, mode: str, full_url: str | None):
    rtype = resource.get("resourceType")
    if not known_resource_type(version, rtype):
        return _reject(source, position, "unknown_resource_type",
                       "resourceType is missing or not a FHIR " + version + " resource type")
    problems = validate_resource(resource, version)
    if problems and mode == "strict":
        return _reject(source, position, "invalid_resource",
                       f"{rtype} failed {version} validation: " + "; ".join(problems[:3]))
    unit = {"kind": "fhir", "source": source, "position": position, "resource": resource,
            "valid": not problems, "validation": problems}
    if full_url is not None:
        unit["full_url"] = full_url
    return unit


def _iter_bundle(bundle: dict, source: str, prefix: str, version: str, mode: str) -> Iterator[dict]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        yield _reject(source, prefix or "file", "invalid_bundle", "Bundle.entry is not a list")
        return
    for i, entry in enumerate(entries):
        position = f"{prefix}entry {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            if isinstance(entry, dict) and "request" in entry and "resource" not in entry:
                continue  # e.g. a DELETE in a transaction: no resource to keep (not a unit)
            yield _reject(source, position, "invalid_entry", "bundle entry without a resource object")
            continue
        res = entry["resource"]
        if res.get("resourceType") == "Bundle":
            yield from _iter_bundle(res, source, position + "/", version, mode)
            continue
        yield _unit(res, source, position, version, mode, entry.get("fullUrl") or "")


def iter_fhir_units(data: bytes, source: str, *, fhir_version: str = "R4", mode: str = "lenient",
                    max_bytes: int = 256 * 1024 * 1024) -> Iterator[dict]:
    """Units (or reject dicts) of one FHIR file's bytes."""
    if not data:
        yield _reject(source, "file", "empty_file", "zero-byte file")
        return
    try:
        data = maybe_gunzip(data)
    except (OSError, EOFError, zlib.error):
        yield _reject(source, "file", "bad_gzip", "truncated or corrupt gzip data")
        return
    if len(data) > max_bytes:
        yield _reject(source, "file", "file_too_large", f"decompressed size over the cap of {max_bytes} bytes")
        return
    stripped = data.lstrip()
    if not stripped:
        yield _reject(source, "file", "empty_file", "file holds only whitespace")
        return
    if stripped[:1] != b"{":
        yield _reject(source, "file", "not_json", "content is not a JSON object or NDJSON")
        return
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        if doc.get("resourceType") == "Bundle":
            n = 0
            for item in _iter_bundle(doc, source, "", fhir_version, mode):
                n += 1
                yield item
            if n == 0:  # e.g. a batch of GET requests: nothing to keep, but the file must not vanish
                yield _reject(source, "file", "empty_bundle", "bundle holds no resources (only requests or nothing)")
        else:
            yield _unit(doc, source, "file", fhir_version, mode, None)
        return
    # NDJSON: one resource per line; a broken line is rejected alone
    lines = data.split(b"\n")
    if len(lines) == 1 or (len(lines) == 2 and not lines[1].strip()):
        yield _reject(source, "file", "invalid_json", "invalid or truncated JSON")
        return
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        position = f"line {n}"
        try:
            res = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield _reject(source, position, "invalid_json", "line is not valid JSON")
            continue
        if not isinstance(res, dict):
            yield _reject(source, position, "invalid_json", "line is not a JSON object")
            continue
        if res.get("resourceType") == "Bundle":
            yield from _iter_bundle(res, source, position + "/", fhir_version, mode)
        else:
            yield _unit(res, source, position, fhir_version, mode, None)


def _ref_target(ref: str, full_url_map: dict | None) -> tuple[str, str] | None:
    """(resourceType, id) of a reference, resolving ``urn:uuid:`` via the bundle's fullUrls."""
    if not ref:
        return None
    if full_url_map and ref in full_url_map:
        res = full_url_map[ref]
        return res.get("resourceType", ""), str(res.get("id") or ref.rsplit(":", 1)[-1])
    if ref.startswith("urn:uuid:"):
        return None if full_url_map else ("", ref[len("urn:uuid:"):])
    parts = ref.split("?")[0].rstrip("/").split("/")
    if len(parts) >= 2:
        if len(parts) >= 4 and parts[-2] == "_history":
            return parts[-4], parts[-3]
        return parts[-2], parts[-1]
    return None


def patient_ref_of(resource: dict, full_url_map: dict | None) -> str | None:
    """The id of the patient a resource belongs to, or None for reference-only resources."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        return str(resource.get("id") or "") or None
    if rtype in REFERENCE_ONLY:
        return None
    for field in REF_FIELDS:
        value = resource.get(field)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            target = _ref_target(value["reference"], full_url_map)
            if target and target[0] in ("Patient", ""):
                return target[1] or None
    return None


def patient_identifiers(patient: dict) -> list[str]:
    """Identifier values of a Patient, used to link DICOM PatientID and note patient ids."""
    values = []
    for ident in patient.get("identifier") or []:
        if isinstance(ident, dict) and isinstance(ident.get("value"), str) and ident["value"].strip():
            values.append(ident["value"].strip())
    return sorted(set(values))
