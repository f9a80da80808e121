"""Keyed pseudonyms, date offsets and UIDs derived from the run secret.

Everything here is a pure function of (secret, namespace, value), so the same person gets the
same pseudonym in FHIR, DICOM and notes, on any runner, in any run that uses the same secret.
"""
from __future__ import annotations

import hashlib
import hmac


def hmac_digest(secret: bytes, namespace: str, value: str) -> bytes:
    """HMAC-SHA256 over ``namespace`` and ``value`` (unambiguously separated)."""
    msg = namespace.encode("utf-8") + b"\x1f" + value.encode("utf-8")
    return hmac.new(secret, msg, hashlib.sha256).digest()


def hmac_hex(secret: bytes, namespace: str, value: str, length: int = 16) -> str:
    return hmac_digest(secret, namespace, value).hex()[:length]


def patient_key(secret: bytes, patient_id: str) -> str:
    """The pseudonymous key of a patient, shared by every modality."""
    return "pk-" + hmac_hex(secret, "patient", patient_id)


def resource_pseudonym(secret: bytes, resource_type: str, resource_id: str) -> str:
    """A pseudonymous FHIR id (valid FHIR id characters, at most 64)."""
    return hmac_hex(secret, "resource:" + resource_type, resource_id, 32)


def date_shift_days(secret: bytes, patient_id: str, max_days: int = 365) -> int:
    """A per-patient offset in [-max_days, max_days], never 0."""
    if max_days < 1:
        raise ValueError("max_days must be >= 1")
    n = int.from_bytes(hmac_digest(secret, "date-shift", patient_id)[:8], "big")
    offset = n % (2 * max_days + 1) - max_days  # in [-max_days, max_days]
    return offset if offset != 0 else max_days


def document_date_shift_days(secret: bytes, source: str, position: str, max_days: int = 365) -> int:
    """The offset of a document that belongs to no known patient: keyed by the document (its source
    and position), in [-max_days, max_days], never 0, so its dates move like a patient's would."""
    return date_shift_days(secret, "document\x1f" + source + "\x1f" + position, max_days)


def keyed_uid(secret: bytes, uid: str) -> str:
    """A deterministic DICOM UID ``2.25.<integer>`` (PS3.5 B.2, at most 64 characters)."""
    n = int.from_bytes(hmac_digest(secret, "dicom-uid", uid.strip())[:16], "big")
    return "2.25." + str(n)


def fingerprint(secret: bytes) -> str:
    """A short, non-reversible fingerprint of the secret for manifests and audit logs."""
    return hashlib.sha256(b"medcorpus-fingerprint\x1f" + secret).hexdigest()[:12]
