"""Parse FHIR inputs of every real-world shape into units, one per resource.

Shapes: Bundles of any type (collection, transaction, batch, searchset, document, nested),
Bulk Data ``$export`` NDJSON (one resource per line, any type), single-resource JSON; gzip
accepted (bounded, ``transforms.io.archive``), any text encoding (``transforms.io.decode``).
Each resource is validated once with ``fhir.resources`` (R4 data with the R4B models, since
fhir.resources has no R4 package; R5 with the default package). ``lenient`` mode keeps an
invalid resource flagged, ``strict`` rejects it (only that entry). Rejects never carry values:
pydantic's ``input`` is dropped and only error locations and types are kept.

The smallest broken unit is rejected: a file that cannot be parsed as a whole is one reject (a
truncated pretty-printed Bundle is one reject, not one per line); a bad NDJSON line, a bad entry
or resource inside a good Bundle, a resource past a limit (``transforms.io.limits``), with an id
of the wrong JSON type or a malformed patient reference is one reject.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator

import orjson

from transforms.io.archive import BadArchive, unwrap
from transforms.io.fhir_refs import (REF_FIELDS, REFERENCE_ONLY, json_type, normalize_resource_id,  # noqa: F401
                                     patient_identifiers, patient_link, patient_ref_of)
from transforms.io.limits import LimitExceeded, Limits, check_json

#: Bundles nested in Bundles deeper than this are rejected (each level is one entry.resource)
MAX_NESTED_BUNDLES = 8


def _reject(source: str, position: str, kind: str, message: str) -> dict:
    return {"reject": True, "source": source, "position": position, "stage": "read", "error_kind": kind,
            "message": message}


def maybe_gunzip(data: bytes, limits: Limits | None = None) -> bytes:
    """Gunzip under the limits (``LimitExceeded``/``BadArchive``) when ``data`` is gzip."""
    return unwrap(data, limits or Limits())


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
                found = errors(include_input=False, include_url=False)
            except TypeError:
                found = errors()
            return [f"{safe_location(e)}: {_safe_word(str(e.get('type', 'invalid')))}" for e in found][:10]
        return [f"model: {type(exc).__name__}"]
    return []


_ELEMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def _safe_word(part: str) -> str:
    return part if _ELEMENT_NAME.fullmatch(part) else "?"


def safe_location(error: dict) -> str:
    """An error's location with nothing taken from the payload.

    pydantic puts the payload's own key in the location of an ``extra_forbidden`` error (a key that
    is no FHIR element: it may be a name or a record number), so that last part is withheld; any
    other part is kept only when it looks like an element name or is a list index.
    """
    loc = list(error.get("loc") or ())
    if error.get("type") == "extra_forbidden" and loc:
        loc[-1] = "(unknown element)"
    parts = [str(p) if isinstance(p, int) or p == "(unknown element)" else _safe_word(str(p)) for p in loc]
    return ".".join(parts) or "resource"


@dataclass
class FhirFile:
    """One FHIR file, parsed: its shape, the parsed document(s) and its units and rejects in file order.

    ``shape`` is ``bundle`` | ``resource`` | ``ndjson`` | ``rejected``; ``doc`` is the Bundle or the
    resource; ``lines`` the NDJSON ``(line number, parsed value)`` pairs (``None`` for a broken line).
    ``medcorpus deid`` rebuilds the file from these with only the good units (``rebuild``).
    """

    shape: str = "rejected"
    doc: dict | None = None
    lines: list = field(default_factory=list)
    items: list = field(default_factory=list)
    encoding: str = "utf-8"
    replaced: int = 0


class _Parser:
    def __init__(self, source: str, version: str, mode: str, limits: Limits, validate: bool = True):
        self.source, self.version, self.mode, self.limits = source, version, mode, limits
        self.validate = validate

    def reject(self, position: str, kind: str, message: str) -> dict:
        return _reject(self.source, position, kind, message)

    def unit(self, resource: dict, position: str, full_url: str | None) -> dict:
        rtype = resource.get("resourceType")
        if not known_resource_type(self.version, rtype):
            return self.reject(position, "unknown_resource_type",
                               "resourceType is missing or not a FHIR " + self.version + " resource type")
        try:
            check_json(resource, self.limits, rtype)
        except LimitExceeded as exc:
            return self.reject(position, exc.kind, exc.message)
        resource, problem = normalize_resource_id(resource)
        if problem:
            return self.reject(position, *problem)
        problems = validate_resource(resource, self.version) if self.validate else []
        if problems and self.mode == "strict":
            return self.reject(position, "invalid_resource",
                               f"{rtype} failed {self.version} validation: " + "; ".join(problems[:3]))
        unit = {"kind": "fhir", "source": self.source, "position": position, "resource": resource,
                "valid": not problems, "validation": problems}
        if full_url is not None:
            unit["full_url"] = full_url if isinstance(full_url, str) else ""
        return unit

    def bundle(self, bundle: dict, prefix: str, level: int = 0) -> Iterator[dict]:
        where = prefix.rstrip("/") or "file"
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            yield self.reject(where, "invalid_bundle", f"Bundle.entry is a JSON {json_type(entries)}, not a list")
            return
        if level > MAX_NESTED_BUNDLES:
            yield self.reject(where, "too_deeply_nested", f"Bundles nested more than {MAX_NESTED_BUNDLES} levels deep")
            return
        if len(entries) > self.limits.max_bundle_entries:
            yield self.reject(where, "too_many_entries",
                              f"Bundle has {len(entries)} entries, over the configured cap of "
                              f"{self.limits.max_bundle_entries} (limits.max_bundle_entries)")
            return
        for i, entry in enumerate(entries):
            position = f"{prefix}entry {i}"
            if not isinstance(entry, dict):
                yield self.reject(position, "invalid_entry", f"bundle entry is a JSON {json_type(entry)}, not an object")
                continue
            res = entry.get("resource")
            if not isinstance(res, dict):
                if "request" in entry and "resource" not in entry:
                    continue  # e.g. a DELETE in a transaction: no resource to keep (not a unit)
                yield self.reject(position, "invalid_entry", "bundle entry without a resource object")
                continue
            if res.get("resourceType") == "Bundle":
                yield from self.bundle(res, position + "/", level + 1)
                continue
            yield self.unit(res, position, entry.get("fullUrl") or "")

    def document(self, doc: dict, prefix: str = "") -> Iterator[dict]:
        if doc.get("resourceType") == "Bundle":
            yield from self.bundle(doc, prefix)
        else:
            yield self.unit(doc, prefix.rstrip("/") or "file", None)


def json_utf8(data: bytes) -> tuple[bytes, str, int]:
    """UTF-8 bytes for orjson (BOM, UTF-16/32, GB18030... decoded), the encoding and replaced-byte count."""
    from transforms.io.decode import decode_bytes, has_bom

    if not has_bom(data) and b"\x00" not in data[:4096]:
        try:
            data.decode("utf-8")
            return data, "utf-8", 0
        except UnicodeDecodeError:
            pass
    d = decode_bytes(data)  # UndecodableText propagates
    return d.text.encode("utf-8"), d.encoding, d.replaced


def _loads(blob: bytes):
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError:
        return _INVALID


_INVALID = object()


def read_fhir(data: bytes, source: str, *, fhir_version: str = "R4", mode: str = "lenient",
              limits: Limits | None = None, validate: bool = True) -> FhirFile:
    """Parse one FHIR file's bytes into a ``FhirFile`` (units resolved to their patient, or rejects).
    ``validate=False`` skips the fhir.resources model check (a first pass that only needs ids and links)."""
    limits = limits or Limits()
    out = FhirFile()
    p = _Parser(source, fhir_version, mode, limits, validate)
    if not data:
        out.items = [p.reject("file", "empty_file", "zero-byte file")]
        return out
    try:
        data = unwrap(data, limits)
    except (LimitExceeded, BadArchive) as exc:
        out.items = [p.reject("file", exc.kind, exc.message)]
        return out
    if len(data) > limits.max_decompressed_bytes:
        out.items = [p.reject("file", "file_too_large",
                              f"decompressed size over the cap of {limits.max_decompressed_bytes} bytes")]
        return out
    from transforms.io.decode import UndecodableText

    try:
        data, out.encoding, out.replaced = json_utf8(data)
    except UndecodableText:
        out.items = [p.reject("file", "not_json", "content is not JSON text (binary or undecodable)")]
        return out
    head = data[:4096].lstrip() or data.lstrip()[:1]
    if not head:
        out.items = [p.reject("file", "empty_file", "file holds only whitespace")]
        return out
    if head[:1] not in (b"{", b"["):
        out.items = [p.reject("file", "not_json", "content is not a JSON object or NDJSON")]
        return out
    doc = _loads(data)
    if isinstance(doc, dict):
        out.shape, out.doc = ("bundle" if doc.get("resourceType") == "Bundle" else "resource"), doc
        out.items = list(p.document(doc))
        if not out.items:  # e.g. a batch of GET requests: nothing to keep, but the file must not vanish
            out.items = [p.reject("file", "empty_bundle", "bundle holds no resources (only requests or nothing)")]
    elif doc is not _INVALID:
        out.items = [p.reject("file", "not_fhir_json", f"the file is one JSON {json_type(doc)}, not a FHIR resource, "
                                                       "Bundle or NDJSON")]
        return out
    else:
        out.lines = _ndjson_lines(data)
        if not any(isinstance(v, dict) for _, v in out.lines):
            out.lines = []
            out.items = [p.reject("file", "invalid_json", "invalid or truncated JSON (and no line is a JSON object "
                                                          "on its own, so not NDJSON)")]
            return out
        out.shape = "ndjson"
        for n, value in out.lines:
            position = f"line {n}"
            if value is None:
                out.items.append(p.reject(position, "invalid_json", "line is not valid JSON"))
            elif not isinstance(value, dict):
                out.items.append(p.reject(position, "invalid_json", f"line is a JSON {json_type(value)}, not an object"))
            else:
                out.items.extend(p.document(value, position + "/"))
    out.items = _link(out.items)
    return out


def _ndjson_lines(data: bytes) -> list:
    lines = []
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        value = _loads(line)
        lines.append((n, None if value is _INVALID else value))
    return lines


def _link(items: list[dict]) -> list[dict]:
    """Resolve each unit's patient (``patient_ref``); a malformed patient reference becomes a reject."""
    full_urls = {u["full_url"]: u["resource"] for u in items if not u.get("reject") and u.get("full_url")}
    out = []
    for item in items:
        if item.get("reject"):
            out.append(item)
            continue
        in_bundle = "full_url" in item
        ref, problem = patient_link(item["resource"], full_urls if in_bundle else None, item.get("full_url"))
        if problem:
            out.append(_reject(item["source"], item["position"], *problem))
            continue
        item["patient_ref"] = ref
        out.append(item)
    return out


def iter_fhir_units(data: bytes, source: str, *, fhir_version: str = "R4", mode: str = "lenient",
                    max_bytes: int | None = None, limits: Limits | None = None) -> Iterator[dict]:
    """Units (or reject dicts) of one FHIR file's bytes."""
    limits = limits or Limits()
    if max_bytes is not None:
        limits = limits.with_max_bytes(max_bytes)
    yield from read_fhir(data, source, fhir_version=fhir_version, mode=mode, limits=limits).items


def rebuild(parsed: FhirFile, resources: dict[str, dict], *, fix_entry=None, fix_bundle=None) -> bytes | None:
    """The file again, with each unit's resource replaced by ``resources[position]``; rejected or
    missing units are left out (a Bundle keeps its other entries). ``fix_entry(entry)`` and
    ``fix_bundle(bundle)`` may rewrite the envelopes (``fix_entry`` returning None drops the entry).
    None when no resource is left."""
    kept = 0

    def bundle(b: dict, prefix: str) -> dict:
        nonlocal kept
        entries = []
        for i, entry in enumerate(b.get("entry") or []):
            position = f"{prefix}entry {i}"
            if not isinstance(entry, dict):
                continue
            res = entry.get("resource")
            if isinstance(res, dict) and res.get("resourceType") == "Bundle":
                new = {**entry, "resource": bundle(res, position + "/")}
            elif position in resources:
                new = {**entry, "resource": resources[position]}
                kept += 1
            elif "request" in entry and "resource" not in entry:
                new = dict(entry)
            else:
                continue
            new = fix_entry(new) if fix_entry else new
            if new is not None:
                entries.append(new)
        out = {**b, "entry": entries}
        return fix_bundle(out) if fix_bundle else out

    def document(doc: dict, prefix: str):
        nonlocal kept
        if doc.get("resourceType") == "Bundle":
            return bundle(doc, prefix)
        res = resources.get(prefix.rstrip("/") or "file")
        kept += res is not None
        return res

    if parsed.shape in ("bundle", "resource"):
        doc = document(parsed.doc, "")
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) if kept else None
    if parsed.shape == "ndjson":
        docs = [document(v, f"line {n}/") for n, v in parsed.lines if isinstance(v, dict)]
        lines = [orjson.dumps(v) for v in docs if v is not None]
        return b"\n".join(lines) + b"\n" if kept else None
    return None
