"""Structural de-identification of one patient's FHIR R4 resources (rules in the policy YAML).

* ids and every reference (``Type/id``, ``urn:uuid:``) get keyed pseudonyms, so they still resolve;
* people (Patient, RelatedPerson, Practitioner, Person): names, telecom, photo, contact and
  address lines go; identifiers get keyed values; ZIP codes keep their first three digits
  (``000`` for the low-population prefixes Safe Harbor lists); PHI extensions go;
* organisations and locations get keyed surrogate names; their contact details go;
* every date, dateTime, instant and Period moves by the patient's offset (intervals kept);
  a patient over 89 keeps no birth date;
* free text (narratives, notes, conclusions, descriptions, text attachments) goes through the
  text de-identifier; clinical codes, values and units are untouched.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections import Counter
from typing import Callable

from transforms.deid.keys import hmac_hex, patient_key, resource_pseudonym
from transforms.deid.text.surrogates import Surrogates

PEOPLE = {"Patient", "RelatedPerson", "Practitioner", "Person"}
PLACES = {"Organization", "Location"}
DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?$")
DEFAULTS = {
    "remove_person_fields": ["name", "telecom", "photo", "contact", "communication"],
    "phi_extensions": ["patient-mothersMaidenName", "patient-birthPlace", "geolocation", "patient-birthTime",
                       "patient-nationality", "patient-citizenship", "patient-religion"],
    "free_text_fields": ["note", "conclusion", "description", "comment", "div", "patientInstruction", "summary",
                         "valueString", "valueMarkdown"],
    "restricted_zip3": ["036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
                        "879", "884", "890", "893"],
    "birth_date": "shift",  # shift | year
    "age_cap": 89,
}
TEXT_TYPES = ("text/plain", "text/html", "text/markdown")


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


class _Ctx:
    def __init__(self, secret, pid, shift, text_deid, policy, id_types, counts):
        self.secret, self.pid, self.shift = secret, pid, shift
        self.text_deid, self.policy, self.id_types, self.counts = text_deid, policy, id_types, counts
        self.surrogates = Surrogates(secret)

    def pseudo(self, rtype: str, rid: str) -> str:
        if rtype == "Patient" and rid == self.pid:
            return patient_key(self.secret, rid)
        return resource_pseudonym(self.secret, rtype or "Resource", rid)

    def text(self, value: str) -> str:
        out, counts = self.text_deid(value, None)
        for k, n in counts.items():
            self.counts[f"text:{k}"] += n
        return out


def _rewrite_reference(ref: str, ctx: _Ctx) -> str:
    ctx.counts["reference_rewritten"] += 1
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


def _walk(node, ctx: _Ctx, key: str = ""):
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                out[k] = _rewrite_reference(v, ctx)
            elif k == "display" and "reference" in node:
                ctx.counts["reference_display_removed"] += 1  # displays of references name people/places
                continue
            elif k == "extension" and isinstance(v, list):
                kept = [e for e in v if not _phi_extension(e, ctx)]
                if kept:
                    out[k] = _walk(kept, ctx, k)
            elif k == "div" and isinstance(v, str):
                out[k] = _deid_div(v, ctx)
            elif k in ("data",) and isinstance(v, str) and node.get("contentType", "text/plain").split(";")[0] in TEXT_TYPES:
                out[k] = _deid_attachment(v, ctx)
            elif k in ("url", "title") and "contentType" in node:
                continue  # attachment url/title may name the patient or a file path
            elif k in ctx.policy["free_text_fields"] and isinstance(v, str):
                out[k] = ctx.text(v)
            elif k == "text" and isinstance(v, str) and key == "note":
                out[k] = ctx.text(v)
            else:
                out[k] = _walk(v, ctx, k)
        return out
    if isinstance(node, list):
        return [_walk(v, ctx, key) for v in node]
    if isinstance(node, str) and DATE_RE.match(node) and key not in ("value", "code", "system", "version", "id"):
        shifted = shift_fhir_date(node, ctx.shift)
        if shifted is not None:
            ctx.counts["date_shifted"] += 1
            return shifted
    return node


def _phi_extension(ext, ctx: _Ctx) -> bool:
    url = (ext or {}).get("url", "") if isinstance(ext, dict) else ""
    if any(url.endswith(name) or name in url for name in ctx.policy["phi_extensions"]):
        ctx.counts["extension_removed"] += 1
        return True
    return False


def _deid_div(div: str, ctx: _Ctx) -> str:
    from transforms.io.fhir_notes import html_to_text

    text = html_to_text(div)
    if not text:
        return '<div xmlns="http://www.w3.org/1999/xhtml"></div>'
    import html

    return '<div xmlns="http://www.w3.org/1999/xhtml">' + html.escape(ctx.text(text)) + "</div>"


def _deid_attachment(data: str, ctx: _Ctx) -> str:
    try:
        text = base64.b64decode(data, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        ctx.counts["attachment_dropped_undecodable"] += 1
        return ""
    ctx.counts["attachment_deidentified"] += 1
    return base64.b64encode(ctx.text(text).encode("utf-8")).decode("ascii")


def _zip3(postal: str, policy: dict) -> str:
    digits = re.sub(r"\D", "", postal)[:3]
    if len(digits) < 3 or digits in policy["restricted_zip3"]:
        return "000"
    return digits


def _person(res: dict, ctx: _Ctx) -> dict:
    for f in ctx.policy["remove_person_fields"]:
        if f in res:
            res.pop(f)
            ctx.counts[f"removed:{f}"] += 1
    idents = []
    for ident in res.get("identifier") or []:
        ident = {k: v for k, v in ident.items() if k in ("use", "type", "system", "value")}
        if isinstance(ident.get("value"), str):
            ident["value"] = hmac_hex(ctx.secret, "identifier:" + str(ident.get("system", "")), ident["value"], 20)
            ctx.counts["identifier_pseudonymized"] += 1
        idents.append(ident)
    if idents:
        res["identifier"] = idents
    addrs = []
    for a in res.get("address") or []:
        kept = {k: v for k, v in a.items() if k in ("use", "type", "state", "country")}
        if a.get("postalCode"):
            kept["postalCode"] = _zip3(str(a["postalCode"]), ctx.policy)
        ctx.counts["address_generalized"] += 1
        addrs.append(kept)
    if addrs:
        res["address"] = addrs
    for f in ("qualification",):
        if f in res:
            res[f] = [{k: v for k, v in q.items() if k == "code"} for q in res[f] if isinstance(q, dict)]
    return res


def _place(res: dict, ctx: _Ctx) -> dict:
    if isinstance(res.get("name"), str):
        res["name"] = ctx.surrogates.hospital(res["name"])
        ctx.counts["institution_name_replaced"] += 1
    for f in ("telecom", "alias", "contact"):
        if f in res:
            res.pop(f)
            ctx.counts[f"removed:{f}"] += 1
    for ident in res.get("identifier") or []:
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            ident["value"] = hmac_hex(ctx.secret, "identifier:" + str(ident.get("system", "")), ident["value"], 20)
    addr = res.get("address")
    for a in (addr if isinstance(addr, list) else [addr] if isinstance(addr, dict) else []):
        for f in ("line", "city", "district", "text"):
            a.pop(f, None)
        if a.get("postalCode"):
            a["postalCode"] = _zip3(str(a["postalCode"]), ctx.policy)
    res.pop("position", None)
    return res


def _latest_date(resources: list[dict]) -> dt.date | None:
    latest = None
    stack = list(resources)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and DATE_RE.match(node) and len(node) >= 10:
            try:
                d = dt.date.fromisoformat(node[:10])
            except ValueError:
                continue
            latest = d if latest is None or d > latest else latest
    return latest


def deidentify_patient_resources(resources: list[dict], *, secret: bytes, patient_id: str, date_shift_days: int,
                                 text_deid: Callable[[str, str | None], tuple[str, dict]], policy: dict | None
                                 ) -> tuple[list[dict], dict[str, int]]:
    pol = {**DEFAULTS, **(policy or {})}
    counts: Counter = Counter()
    id_types = {str(r.get("id")): r.get("resourceType", "") for r in resources if r.get("id")}
    ctx = _Ctx(secret, patient_id, date_shift_days, text_deid, pol, id_types, counts)
    latest = _latest_date(resources)
    out = []
    for res in resources:
        rtype = res.get("resourceType", "")
        raw_birth = res.get("birthDate") if rtype == "Patient" else None
        new = _walk(res, ctx)
        if res.get("id"):
            new["id"] = ctx.pseudo(rtype, str(res["id"]))
            counts["id_pseudonymized"] += 1
        if isinstance(new.get("meta"), dict):
            new["meta"] = {k: v for k, v in new["meta"].items() if k == "profile"}
        if rtype in PEOPLE:
            new = _person(new, ctx)
        elif rtype in PLACES:
            new = _place(new, ctx)
        if rtype == "Patient" and isinstance(raw_birth, str) and len(raw_birth) >= 4:
            age = None
            if latest and len(raw_birth) >= 10:
                try:
                    b = dt.date.fromisoformat(raw_birth[:10])
                    age = latest.year - b.year - ((latest.month, latest.day) < (b.month, b.day))
                except ValueError:
                    age = None
            if age is not None and age > int(pol["age_cap"]):
                new.pop("birthDate", None)
                new.setdefault("extension", []).append({
                    "url": "https://medcorpus.dev/fhir/StructureDefinition/age-group", "valueString": "90+"})
                counts["age_over_89_generalized"] += 1
            elif pol["birth_date"] == "year":
                new["birthDate"] = str(new.get("birthDate", raw_birth))[:4]
        out.append(new)
    return out, dict(sorted(counts.items()))
