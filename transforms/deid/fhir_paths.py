"""What every element of a FHIR resource is, from the FHIR definitions (the ``fhir.resources`` models).

The structural de-identifier classifies each value by its element's datatype instead of by a list
of field names someone remembered:

* ``keep``: code, id, uri, url, canonical, oid, uuid, boolean, integer, decimal, time - values
  from a code system or a closed set, identifiers of definitions, numbers;
* ``text``: string and markdown - free text, which goes through the text de-identifier;
* ``date``: date, dateTime, instant - shifted by the patient's offset;
* ``binary``: base64Binary outside a text attachment - dropped;
* ``xhtml``: a narrative's ``div``;
* ``complex``: a datatype or backbone element (its class is returned, e.g. ``Coding``,
  ``HumanName``, ``EncounterHospitalization``);
* ``resource``: a contained or nested resource (dispatched on its ``resourceType``).

An element the models do not know (a resource type outside the release, an invalid resource kept
in lenient mode) is classified by :func:`guess`: string values are free text unless the key is a
known code-like key, so unknown text is de-identified, never passed through.
"""
from __future__ import annotations

import typing
from functools import lru_cache

KEEP, TEXT, DATE, BINARY, XHTML, COMPLEX, RESOURCE = "keep", "text", "date", "binary", "xhtml", "complex", "resource"
_PRIMITIVES = {
    **dict.fromkeys(("Code", "Id", "Uri", "Url", "Canonical", "Oid", "Uuid", "Boolean", "Integer", "Integer64",
                     "Decimal", "UnsignedInt", "PositiveInt", "Time"), KEEP),
    "String": TEXT, "Markdown": TEXT,
    "Date": DATE, "DateTime": DATE, "Instant": DATE,
    "Base64Binary": BINARY, "Xhtml": XHTML,
}
#: keys whose string values are codes or identifiers of definitions wherever they appear
GUESS_KEEP = {"resourceType", "id", "system", "code", "version", "url", "status", "use", "contentType", "language",
              "gender", "profile", "mode", "intent", "priority", "comparator", "unit", "type", "kind", "category"}


@lru_cache(maxsize=None)
def model_class(version: str, resource_type: str):
    """The fhir.resources model of a resource type (R4 data uses the R4B models), or None."""
    if not isinstance(resource_type, str) or not resource_type:
        return None
    if version in ("R4", "R4B", "", None):
        from fhir.resources.R4B import get_fhir_model_class
    else:
        from fhir.resources import get_fhir_model_class
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def _unwrap(annotation):
    """(kind, child class) of a pydantic field annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] if typing.get_origin(annotation) in (
        typing.Union, getattr(__import__("types"), "UnionType", typing.Union)) else [annotation]
    for arg in args:
        origin = typing.get_origin(arg)
        if origin in (list, typing.List):
            inner = typing.get_args(arg)
            arg = inner[0] if inner else arg
        if typing.get_origin(arg) is typing.Annotated:
            for meta in reversed(typing.get_args(arg)[1:]):
                kind = _PRIMITIVES.get(type(meta).__name__)
                if kind:
                    return kind, None
            base = typing.get_args(arg)[0]
            return (TEXT if base is str else KEEP), None
        if hasattr(arg, "get_model_klass"):
            klass = arg.get_model_klass()
            if klass.__name__ in ("Resource", "DomainResource"):
                return RESOURCE, None
            return COMPLEX, klass
        if arg in (bool, int, float):
            return KEEP, None
        if arg is str:
            return TEXT, None
    return None, None


@lru_cache(maxsize=None)
def field_kinds(klass) -> dict[str, tuple[str, object]]:
    """{JSON key: (kind, child class or None)} of a fhir.resources model class."""
    out = {}
    for name, f in klass.model_fields.items():
        key = f.alias or name
        kind, child = _unwrap(f.annotation)
        if kind is None:
            continue
        if key in ("id", "version") and kind == TEXT:  # element ids and code system versions
            kind = KEEP
        out[key] = (kind, child)
    return out


def guess(key: str, value) -> str:
    """The kind of a string value the models do not describe."""
    from transforms.deid.fhir_walk import DATE_RE

    if key in GUESS_KEEP:
        return KEEP
    if isinstance(value, str) and DATE_RE.match(value):
        return DATE
    return TEXT


def guess_type(node: dict) -> str:
    """The datatype name of an undescribed JSON object, from its shape."""
    if "reference" in node:
        return "Reference"
    if "div" in node:
        return "Narrative"
    if "contentType" in node or ("data" in node and "url" in node):
        return "Attachment"
    if "given" in node or "family" in node:
        return "HumanName"
    if "line" in node or "postalCode" in node or "city" in node:
        return "Address"
    if isinstance(node.get("value"), str) and ("system" in node and node.get("system") in (
            "phone", "email", "fax", "pager", "url", "sms", "other")):
        return "ContactPoint"
    if "code" in node and "system" in node:
        return "Coding"
    if "value" in node and ("system" in node or "assigner" in node):
        return "Identifier"
    return ""
