"""Structural de-identification of one patient's FHIR resources (rules in the policy YAML).

Every value is classified by its element's FHIR datatype (``transforms.deid.fhir_paths``, read
from the ``fhir.resources`` models), not by a list of field names, so a field nobody thought of
is still handled (allow-list design: unknown free text is de-identified, never passed through):

* code, uri, id, boolean and number elements are kept; ``string`` and ``markdown`` elements (code
  and concept texts, medication and dosage texts, notes, titles, extension ``valueString``...) go
  through the text de-identifier with the patient's own known PHI;
* a Coding's ``display`` is the terminology table's display of its (system, code) when the
  tables know it (``transforms.terminology.displays``), else it is de-identified;
* datatypes that exist to identify people are handled wherever they occur: HumanName and
  ContactPoint are removed, Address keeps only use/type/state/country and a 3-digit ZIP (``000``
  for the low-population prefixes Safe Harbor lists), Identifier values (any resource:
  Encounter, Claim, Device...) and device serial/lot numbers get keyed values, DICOM UIDs keyed
  UIDs, Reference displays are removed and references get keyed pseudonyms (so they still
  resolve), an Extension left without a value goes;
* text attachments (whatever the case or parameters of their content type) are converted to plain
  text (``transforms.io.text_formats``) and de-identified; other inline data, attachment URLs,
  titles and hashes are dropped; narratives are de-identified as plain text;
* every date, dateTime and instant moves by the patient's offset (intervals kept); a patient over
  89 keeps no birth date; people lose their photo, contact and communication; organisations and
  locations get keyed surrogate names.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Callable

from transforms.deid.fhir_walk import DATE_RE, _Ctx, _walk_resource, shift_fhir_date

__all__ = ["deidentify_patient_resources", "shift_fhir_date", "over_age_cap", "age_at_latest_event", "DATE_RE"]

PEOPLE = {"Patient", "RelatedPerson", "Practitioner", "Person"}
PLACES = {"Organization", "Location"}
DEFAULTS = {
    "remove_person_fields": ["name", "telecom", "photo", "contact", "communication"],
    "phi_extensions": ["patient-mothersMaidenName", "patient-birthPlace", "geolocation", "patient-birthTime",
                       "patient-nationality", "patient-citizenship", "patient-religion"],
    "restricted_zip3": ["036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
                        "879", "884", "890", "893"],
    "birth_date": "shift",  # shift | year
    "age_cap": 89,
}
def _person(res: dict, ctx: _Ctx) -> dict:
    for f in ctx.policy["remove_person_fields"]:
        if f in res:
            res.pop(f)
            ctx.counts[f"removed:{f}"] += 1
    if "qualification" in res:
        res["qualification"] = [{k: v for k, v in q.items() if k == "code"} for q in res["qualification"]
                                if isinstance(q, dict)]
    return res


def _place(res: dict, raw: dict, ctx: _Ctx) -> dict:
    if isinstance(raw.get("name"), str):
        res["name"] = ctx.surrogates.hospital(raw["name"])
        ctx.counts["institution_name_replaced"] += 1
    for f in ("telecom", "alias", "contact", "position"):
        if f in res:
            res.pop(f)
            ctx.counts[f"removed:{f}"] += 1
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


def age_at_latest_event(resources: list[dict], patient: dict | None) -> int | None:
    """The patient's age in whole years at the latest date anywhere in their resources, or None."""
    birth = (patient or {}).get("birthDate")
    latest = _latest_date(resources)
    if not isinstance(birth, str) or len(birth) < 10 or latest is None:
        return None
    try:
        b = dt.date.fromisoformat(birth[:10])
    except ValueError:
        return None
    return latest.year - b.year - ((latest.month, latest.day) < (b.month, b.day))


def over_age_cap(resources: list[dict], patient: dict | None, policy: dict | None = None) -> bool:
    """True for a patient older than the policy's ``age_cap`` (89): no birth date may be released."""
    age = age_at_latest_event(resources, patient)
    return age is not None and age > int({**DEFAULTS, **(policy or {})}["age_cap"])


def deidentify_patient_resources(resources: list[dict], *, secret: bytes, patient_id: str, date_shift_days: int,
                                 text_deid: Callable[[str, str | None], tuple[str, dict]], policy: dict | None,
                                 fhir_version: str = "R4",
                                 display: Callable[[str, str, str], str | None] | None = None,
                                 over_age: bool | None = None) -> tuple[list[dict], dict[str, int]]:
    """De-identified copies of one patient's resources and counts per action (no values).

    ``text_deid(text, language)`` -> (text, counts) de-identifies free text; ``display(system,
    code, language)`` is the terminology tables' display of a coding (default: the shipped tables);
    ``over_age`` says whether the patient is over the age cap when the caller knows better than these
    resources (e.g. a Bulk export's Patient file holds none of the patient's events).
    """
    pol = {**DEFAULTS, **(policy or {})}
    counts: Counter = Counter()
    id_types = {str(r.get("id")): r.get("resourceType", "") for r in resources if r.get("id")}
    ctx = _Ctx(secret, patient_id, date_shift_days, text_deid, pol, id_types, counts, fhir_version, display)
    out = []
    for res in resources:
        rtype = res.get("resourceType", "")
        raw_birth = res.get("birthDate") if rtype == "Patient" else None
        new = _walk_resource(res, ctx) or {"resourceType": rtype}
        if res.get("id"):
            new["id"] = ctx.pseudo(rtype, str(res["id"]))
            counts["id_pseudonymized"] += 1
        if rtype in PEOPLE:
            new = _person(new, ctx)
        elif rtype in PLACES:
            new = _place(new, res, ctx)
        if rtype == "Patient" and isinstance(raw_birth, str) and len(raw_birth) >= 4:
            if over_age if over_age is not None else over_age_cap(resources, res, pol):
                new.pop("birthDate", None)
                new.setdefault("extension", []).append({
                    "url": "https://medcorpus.dev/fhir/StructureDefinition/age-group", "valueString": "90+"})
                counts["age_over_89_generalized"] += 1
            elif pol["birth_date"] == "year":
                new["birthDate"] = str(new.get("birthDate", raw_birth))[:4]
        out.append(new)
    return out, dict(sorted(counts.items()))
