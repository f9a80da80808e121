"""The datatype-driven walk of the structural FHIR de-identifier (see ``transforms.deid.fhir_deid``).

Each JSON object is handled by the rule of its FHIR datatype (:data:`_DATATYPE_RULES`: Coding,
Reference, Identifier, HumanName, ContactPoint, Address, Attachment, Narrative, Meta, Extension,
Signature) or field by field by the kind of each element (``transforms.deid.fhir_paths``).
"""
from __future__ import annotations

import base64
import datetime as dt
import re

from transforms.deid.fhir_paths import (BINARY, COMPLEX, DATE, KEEP, RESOURCE, XHTML, field_kinds, guess, guess_type,
                                        model_class)
from transforms.deid.keys import hmac_hex, keyed_uid, patient_key, resource_pseudonym
from transforms.deid.text.surrogates import Surrogates

DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?$")
UID_SYSTEMS = ("urn:dicom:uid", "urn:ietf:rfc:3986")
#: string elements that hold device or batch identifiers (Safe Harbor's device identifiers and serial numbers)
ID_LIKE = {"deviceIdentifier", "distinctIdentifier", "serialNumber", "lotNumber", "carrierHRF"}
_OID = re.compile(r"^\d+(?:\.\d+)+$")


def shift_fhir_date(value: str, days: int) -> str | None:
    """Shift a FHIR date/dateTime/instant string, keeping its precision and timezone."""
    m = DATE_RE.match(value)
    if not m:
        return None
    year, month, day, rest = int(m[1]), int(m[2]), m[3], m[4] or ""
    if day is None:  # YYYY-MM: shift the middle of the month
        try:
            d = dt.date(year, month, 15) + dt.timedelta(days=days)
        except ValueError:
            return None
        return f"{d.year:04d}-{d.month:02d}"
    try:
        d = dt.date(year, month, int(day)) + dt.timedelta(days=days)
    except ValueError:
        return None
    return d.isoformat() + rest


def shipped_display(system: str, code: str, language: str) -> str | None:
    """The terminology tables' display of a coding (no corpus votes): user tables are added by callers."""
    from transforms.terminology.displays import preferred_display

    return preferred_display(system, code, language)


class _Ctx:
    def __init__(self, secret, pid, shift, text_deid, policy, id_types, counts, version="R4", display=None):
        self.secret, self.pid, self.shift = secret, pid, shift
        self.text_deid, self.policy, self.id_types, self.counts = text_deid, policy, id_types, counts
        self.version = version
        self.display = display or shipped_display
        self.surrogates = Surrogates(secret)

    def pseudo(self, rtype: str, rid: str) -> str:
        if rtype == "Patient" and rid == self.pid:
            return patient_key(self.secret, rid)
        return resource_pseudonym(self.secret, rtype or "Resource", rid)

    def text(self, value: str) -> str:
        if not value.strip():
            return value
        out, counts = self.text_deid(value, None)
        for k, n in counts.items():
            self.counts[f"text:{k}"] += n
        return out

    def identifier(self, value: str, system) -> str:
        uid = value[len("urn:oid:"):] if value.startswith("urn:oid:") else value
        if system in UID_SYSTEMS and _OID.match(uid):
            self.counts["uid_keyed"] += 1
            return ("urn:oid:" if value.startswith("urn:oid:") else "") + keyed_uid(self.secret, uid)
        self.counts["identifier_pseudonymized"] += 1
        return hmac_hex(self.secret, "identifier:" + str(system or ""), value, 20)


def _rewrite_reference(ref: str, ctx: _Ctx) -> str:
    ctx.counts["reference_rewritten"] += 1
    if ref.startswith("#"):
        return ref  # a contained resource of this one
    if ref.startswith("urn:uuid:"):
        rid = ref[len("urn:uuid:"):]
        rtype = ctx.id_types.get(rid, "")
        return f"{rtype}/{ctx.pseudo(rtype, rid)}" if rtype else "urn:uuid:" + hmac_hex(ctx.secret, "urn", rid, 32)
    if "?" in ref or "|" in ref:  # conditional reference: Location?identifier=system|value
        rtype = ref.split("?")[0].split("/")[-1]
        return f"{rtype}/{hmac_hex(ctx.secret, 'conditional:' + rtype, ref, 32)}"
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2:
        if "_history" in parts:
            i = parts.index("_history")
            parts = parts[:i]
        rtype, rid = parts[-2], parts[-1]
        return f"{rtype}/{ctx.pseudo(rtype, rid)}"
    return hmac_hex(ctx.secret, "reference", ref, 32)


# ------------------------------------------------------------------------------------ the walk
def _walk_resource(res: dict, ctx: _Ctx) -> dict:
    return _walk_object(res, ctx, model_class(ctx.version, res.get("resourceType")), res.get("resourceType", ""))


def _walk_object(node: dict, ctx: _Ctx, klass, type_name: str) -> dict | None:
    """A de-identified copy of one JSON object of datatype ``type_name`` (None: drop it)."""
    if klass is None and not type_name:
        type_name = guess_type(node)
    rule = _DATATYPE_RULES.get(type_name)
    if rule is not None:
        return rule(node, ctx, klass)
    return _fields(node, ctx, klass, field_kinds(klass) if klass is not None else None) or None


_NO_KIND = (None, None)


def _fields(node: dict, ctx: _Ctx, klass, kinds: dict | None, skip=()) -> dict:
    out = {}
    for k, v in node.items():
        if k in skip:
            continue
        if k == "extension" or k == "modifierExtension":
            value = _extensions(v, ctx)
        else:
            kind, child = kinds.get(k, _NO_KIND) if kinds is not None else _NO_KIND
            if kind is None:  # an element the models do not describe
                if k == "resourceType":
                    value = v
                elif type(v) is str:
                    value = _value(v, ctx, guess(k, v), None, k)
                elif type(v) in (dict, list):
                    value = _value(v, ctx, RESOURCE if _is_resource(v) else COMPLEX, None, k)
                else:
                    value = _value(v, ctx, KEEP, None, k)
            else:
                value = _value(v, ctx, kind, child, k)
        if value is not None and value != [] and value != {}:
            out[k] = value
    return out


def _is_resource(v) -> bool:
    return type(v) is dict and isinstance(v.get("resourceType"), str)


def _value(v, ctx: _Ctx, kind: str, child, key: str):
    t = type(v)
    if t is str:
        if key == "reference":
            return _rewrite_reference(v, ctx)
        if kind == KEEP:
            if key == "uid" and _OID.match(v):
                ctx.counts["uid_keyed"] += 1
                return keyed_uid(ctx.secret, v)
            return v
        if kind == DATE:
            shifted = shift_fhir_date(v, ctx.shift)
            if shifted is not None:
                ctx.counts["date_shifted"] += 1
                return shifted
            if len(v) == 4 and v.isdigit():
                return v  # a year alone is not an identifying date (Safe Harbor)
            ctx.counts["unparseable_date_removed"] += 1
            return None
        if kind == XHTML:
            return _deid_div(v, ctx)
        if kind == BINARY:
            ctx.counts["binary_removed"] += 1
            return None
        if kind == RESOURCE or kind == COMPLEX:
            return ctx.text(v)  # a string where an object belongs: free text
        if key in ID_LIKE:
            return ctx.identifier(v, key)
        ctx.counts["string_deidentified"] += 1
        return ctx.text(v)  # TEXT, and anything the rules above did not claim
    if t is list:
        items = [_value(x, ctx, kind, child, key) for x in v]
        return [x for x in items if x is not None and x != {}]
    if t is dict:
        if kind == RESOURCE or isinstance(v.get("resourceType"), str):
            return _walk_resource(v, ctx)
        return _walk_object(v, ctx, child, child.__name__ if child is not None else "")
    if v is None or t in (bool, int, float):
        return v
    return None


# ------------------------------------------------------------------------------ datatype rules
def _coding(node, ctx: _Ctx, klass):
    from transforms.terminology.displays import display_language

    out = _fields(node, ctx, klass, field_kinds(klass) if klass is not None else None, skip=("display",))
    display = node.get("display")
    if isinstance(display, str) and display.strip():
        system, code = node.get("system"), node.get("code")
        table = ctx.display(system, code, display_language(display)) if isinstance(system, str) and \
            isinstance(code, str) else None
        if table:
            ctx.counts["display_from_terminology"] += 1
            out["display"] = table
        else:
            ctx.counts["display_deidentified"] += 1
            out["display"] = ctx.text(display)
    return out or None


def _reference(node, ctx: _Ctx, klass):
    if "display" in node:
        ctx.counts["reference_display_removed"] += 1  # displays of references name people and places
    return _fields(node, ctx, klass, field_kinds(klass) if klass is not None else None, skip=("display",)) or None


def _identifier(node, ctx: _Ctx, klass):
    out = _fields(node, ctx, klass, field_kinds(klass) if klass is not None else None, skip=("value",))
    if isinstance(node.get("value"), str):
        out["value"] = ctx.identifier(node["value"], node.get("system"))
    return out or None


def _removed(name):
    def rule(node, ctx: _Ctx, klass):
        ctx.counts[f"removed:{name}"] += 1
        return None
    return rule


def _address(node, ctx: _Ctx, klass):
    kept = {k: v for k, v in node.items() if k in ("use", "type", "state", "country") and isinstance(v, str)}
    if node.get("postalCode"):
        kept["postalCode"] = _zip3(str(node["postalCode"]), ctx.policy)
    ctx.counts["address_generalized"] += 1
    return kept or None


def _attachment(node, ctx: _Ctx, klass):
    from transforms.deid.fhir_paths import field_kinds
    from transforms.io.text_formats import PLAIN_UTF8, attachment_plain_text

    dropped = ("data", "url", "title", "hash", "size", "_data", "_url", "_title", "_hash", "_size")
    out = _fields(node, ctx, klass, field_kinds(klass) if klass is not None else None, skip=dropped)
    for k in ("url", "title", "hash"):
        if k in node:
            ctx.counts[f"attachment_{k}_removed"] += 1  # may name the patient or a file path
    if isinstance(node.get("data"), str):
        text, why = attachment_plain_text(node)
        if text is None:
            ctx.counts[f"attachment_removed:{why}"] += 1  # not text: cannot be de-identified here
        else:
            ctx.counts["attachment_deidentified"] += 1
            out["data"] = base64.b64encode(ctx.text(text).encode("utf-8")).decode("ascii")
            out["contentType"] = PLAIN_UTF8
    return out or None


def _narrative(node, ctx: _Ctx, klass):
    out = {k: v for k, v in node.items() if k == "status" and isinstance(v, str)}
    if isinstance(node.get("div"), str):
        out["div"] = _deid_div(node["div"], ctx)
    return out or None


def _meta(node, ctx: _Ctx, klass):
    return {k: v for k, v in node.items() if k == "profile"} or None


def _extension(node, ctx: _Ctx, klass):
    out = _fields(node, ctx, klass, field_kinds(klass) if klass is not None else None)
    if not any(k.startswith("value") or k == "extension" for k in out):
        ctx.counts["extension_removed_empty"] += 1  # its value was a name, a telecom, binary...
        return None
    return out


def _extensions(exts, ctx: _Ctx):
    if not isinstance(exts, list):
        return None
    klass = model_class(ctx.version, "Extension")
    out = []
    for e in exts:
        if not isinstance(e, dict) or _phi_extension(e, ctx):
            continue
        new = _extension(e, ctx, klass)
        if new:
            out.append(new)
    return out


_DATATYPE_RULES = {
    "Coding": _coding, "Reference": _reference, "Identifier": _identifier, "HumanName": _removed("human_name"),
    "ContactPoint": _removed("contact_point"), "Address": _address, "Attachment": _attachment,
    "Narrative": _narrative, "Meta": _meta, "Extension": _extension, "Signature": _removed("signature"),
}


def _phi_extension(ext, ctx: _Ctx) -> bool:
    url = (ext or {}).get("url", "") if isinstance(ext, dict) else ""
    if any(url.endswith(name) or name in url for name in ctx.policy["phi_extensions"]):
        ctx.counts["extension_removed"] += 1
        return True
    return False


def _deid_div(div: str, ctx: _Ctx) -> str:
    import html

    from transforms.io.text_formats import html_to_text

    text = html_to_text(div)
    if not text:
        return '<div xmlns="http://www.w3.org/1999/xhtml"></div>'
    return '<div xmlns="http://www.w3.org/1999/xhtml">' + html.escape(ctx.text(text)) + "</div>"


def _zip3(postal: str, policy: dict) -> str:
    digits = re.sub(r"\D", "", postal)[:3]
    if len(digits) < 3 or digits in policy["restricted_zip3"]:
        return "000"
    return digits


