"""Pseudonymous names for input files in every shareable side file.

Input file names often carry patient names or record numbers (``Smith_John_MRN12345.dcm``), and
absolute paths name the machine and the people who put them there. So ``rejected/``,
``audit.json``, ``manifest.json``, ``DATA_CARD.md`` and the report name an input file only by a
keyed pseudonym, ``<kind>:src-<16 hex>`` (HMAC-SHA256 of ``<kind>:<path relative to its source
root>`` under the run secret), and a source root by ``root-<12 hex>``. The mapping back to the real
relative path is written only to the restricted ``lineage/sources`` table (and ``lineage/inputs``
carries both), which is what ``medcorpus forget --source`` reads.
"""
from __future__ import annotations

import re

from transforms.deid.keys import hmac_hex

SOURCE_PREFIX = "src-"
ROOT_PREFIX = "root-"
_PSEUDONYM = re.compile(r"src-[0-9a-f]{16}")


def source_id(secret: bytes, source: str) -> str:
    """``fhir:bundles/Smith_John.json`` -> ``fhir:src-3e5f411f1cd17458`` (the kind is kept: not PHI)."""
    if not source:
        return ""
    kind, sep, rel = source.partition(":")
    if not sep or _PSEUDONYM.fullmatch(rel):
        return source  # already a pseudonym, or an internal id (document ids, ``d-...``)
    return f"{kind}:{SOURCE_PREFIX}{hmac_hex(secret, 'source', source, 16)}"


def root_id(secret: bytes, kind: str, root: str) -> str:
    return ROOT_PREFIX + hmac_hex(secret, "source-root", f"{kind}\x1f{root}", 12)


def pseudonymise_rejected(row: dict, secret: bytes) -> dict:
    """A rejected row as written to the shareable ``rejected/`` table."""
    return dict(row, source=source_id(secret, str(row.get("source") or "")))


def with_source_id(row: dict, secret: bytes) -> dict:
    """A ``lineage/inputs`` row with the pseudonym that the side files use for its file."""
    return dict(row, source_id=source_id(secret, str(row.get("source") or "")))


def content_hmac(secret: bytes, sha256: str | None) -> str | None:
    """A keyed digest of an input file's content (HMAC-SHA256 of its sha256 under the run secret).

    ``audit.json`` is shareable: a plain sha256 of a patient's file would let anyone who holds a
    candidate file (or can guess a short one) confirm that it was an input. Whoever holds the secret
    can still check a file: ``hmac_hex(secret, "input-content", sha256(file), 64)``."""
    return hmac_hex(secret, "input-content", sha256, 64) if sha256 else None


def audit_entry(inp: dict, secret: bytes) -> dict:
    """An input file as recorded in ``audit.json``: pseudonym, size and keyed content digest, never its
    name nor a plain hash of its content (the restricted ``lineage/sources`` keeps the sha256)."""
    return {"source_id": source_id(secret, inp["source"]), "bytes": inp.get("bytes"),
            "content_hmac": content_hmac(secret, inp.get("sha256"))}


def lineage_source(inp: dict, secret: bytes) -> dict:
    """A ``lineage/sources`` row (RESTRICTED): the pseudonym and the file it stands for."""
    kind = inp["source"].partition(":")[0]
    return {"source_id": source_id(secret, inp["source"]), "source": inp["source"], "source_kind": kind,
            "bytes": inp.get("bytes"), "sha256": inp.get("sha256")}
