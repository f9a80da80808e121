"""Find the resources that make a patient's structural de-identification fail, so that only they
are rejected and the rest of the patient goes on (a bad resource inside a good bundle is one reject)."""
from __future__ import annotations

from typing import Callable


def deidentify_isolating(resources: list[dict], deidentify: Callable[[list[dict]], tuple[list[dict], dict]]):
    """``(outputs, counts, kept indices, [(index, exception name)])``.

    ``deidentify`` is run on the whole list; when it raises, each resource is tried on its own, the
    ones that fail alone are set aside and the rest is de-identified together again (so references,
    the age cap and surrogates still see the whole patient). When no single resource fails alone,
    or the rest still fails, the first exception propagates and the caller rejects the patient.
    """
    try:
        outputs, counts = deidentify(resources)
        return outputs, counts, list(range(len(resources))), []
    except Exception as exc:  # noqa: BLE001 - re-raised below when it cannot be isolated
        first = exc
    bad = []
    for i, resource in enumerate(resources):
        try:
            deidentify([resource])
        except Exception as exc:  # noqa: BLE001
            bad.append((i, type(exc).__name__))
    if not bad:
        raise first
    failed = {i for i, _ in bad}
    kept = [i for i in range(len(resources)) if i not in failed]
    try:
        outputs, counts = deidentify([resources[i] for i in kept]) if kept else ([], {})
    except Exception:  # noqa: BLE001
        raise first from None
    return outputs, counts, kept, bad


def first_that_works(*candidates):
    """The result of the first candidate (a callable) that does not raise; None when all do.

    Used for the known PHI of a record: a Patient resource too malformed to read it from (a string
    identifier, an object name) must not fail the whole record; the Patient itself is then rejected
    by the structural walk and the rest of the patient's notes still go through the text
    de-identifier (with the PHI of their DICOM headers when there are any)."""
    for candidate in candidates:
        try:
            return candidate()
        except Exception:  # noqa: BLE001 - malformed shapes
            continue
    return None


#: the field a bare string stands for, per list-of-objects field of a Patient
_BARE = {"name": "text", "identifier": "value", "telecom": "value", "address": "text", "contact": None,
         "extension": None}


def patient_shape_for_known_phi(patient: dict | None) -> dict | None:
    """A copy of a malformed Patient with its PHI-bearing fields in the shapes FHIR gives them, so
    its own names, identifiers, phones and addresses can still be looked for in its notes: an object
    where a list belongs becomes a one-item list, a bare string becomes ``{"value"|"text": ...}``
    (``given``/``line`` strings become lists); anything else is dropped. Used only to read known PHI."""
    if not isinstance(patient, dict):
        return None

    def items(value, bare):
        values = value if isinstance(value, list) else [value]
        out = []
        for v in values:
            if isinstance(v, dict):
                out.append(dict(v))
            elif isinstance(v, str) and bare:
                out.append({bare: v})
        return out

    fixed = dict(patient)
    for key, bare in _BARE.items():
        if key in fixed:
            fixed[key] = items(fixed[key], bare)
    for name in fixed.get("name") or []:
        for part in ("given", "prefix", "suffix"):
            if isinstance(name.get(part), str):
                name[part] = [name[part]]
    for addr in fixed.get("address") or []:
        if isinstance(addr.get("line"), str):
            addr["line"] = [addr["line"]]
    for contact in fixed.get("contact") or []:
        if isinstance(contact.get("name"), list):
            contact["name"] = next((n for n in contact["name"] if isinstance(n, dict)), {})
    return fixed
