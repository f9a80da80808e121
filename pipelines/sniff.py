"""Kind sniffing for ``build``: does each ``--source KIND:PATH`` hold what KIND says?

``medcorpus deid`` recognises each file by its content; ``build`` trusts the KIND the user gave,
so ``--source text:`` pointed at FHIR bundles used to read every bundle as one long note and end
with an empty corpus. Before anything is read, up to ``SAMPLE`` files of each source are sniffed
from their first bytes (gzip is looked through): DICOM (``DICM`` preamble), FHIR (JSON with a
``resourceType``), other JSON, plain text, binary. When every file checked is of another kind the
build stops with one line naming the right ``--source``; when some are, it warns.
"""
from __future__ import annotations

import re
import sys
import zlib

from pipelines.errors import UserError

SAMPLE = 24
HEAD_BYTES = 64 * 1024
RESOURCE_TYPE = re.compile(rb'"resourceType"\s*:\s*"[A-Z]')
NAMES = {"fhir": "FHIR JSON", "dicom": "DICOM", "text": "plain text", "json": "JSON"}
#: sniffed kinds that contradict a source kind ("json" fits text (JSONL notes) and fhir (broken files))
MISMATCH = {"fhir": {"dicom", "text"}, "text": {"fhir", "dicom"}, "dicom": {"fhir", "text", "json"}}


def sniff_head(head: bytes) -> str:
    """dicom | fhir | json | text | binary | empty, from a file's first bytes."""
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head)
        except zlib.error:
            return "binary"
    if not head.strip():
        return "empty"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "fhir" if RESOURCE_TYPE.search(head) else "json"
    from transforms.io.text_parse import looks_binary

    return "binary" if looks_binary(head[:4096]) else "text"


def _sample(paths: list[str]) -> list[str]:
    if len(paths) <= SAMPLE:
        return paths
    step = len(paths) / SAMPLE
    return [paths[int(i * step)] for i in range(SAMPLE)]


def sniff_source(kind: str, pattern: str) -> dict[str, int]:
    """Sniffed kind -> number of sampled files."""
    from apache_beam.io.filesystems import FileSystems

    try:
        metas = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # noqa: BLE001 - listing problems are reported by check_sources
        return {}
    found: dict[str, int] = {}
    for path in _sample(sorted(m.path for m in metas if m.size_in_bytes)):
        try:
            with FileSystems.open(path, compression_type="uncompressed") as fh:
                head = fh.read(HEAD_BYTES)
        except Exception:  # noqa: BLE001 - an unreadable file is the reader's to reject
            continue
        k = sniff_head(head)
        found[k] = found.get(k, 0) + 1
    return found


def check_source_kinds(sources, warn=None) -> None:
    """Refuse a source whose every sampled file is of another kind; warn when some are."""
    warn = warn or (lambda line: print(line, file=sys.stderr))
    for src in sources:
        found = sniff_source(src.kind, src.pattern)
        checked = sum(found.values())
        wrong = {k: n for k, n in found.items() if k in MISMATCH.get(src.kind, set())}
        if not checked or not wrong:
            continue
        top = max(wrong, key=wrong.get)
        path = src.root if src.pattern.endswith("**") else src.pattern
        if sum(wrong.values()) == sum(n for k, n in found.items() if k not in ("empty", "binary")):
            better = {"fhir": "fhir", "dicom": "dicom", "text": "text", "json": "text"}[top]
            raise UserError(f"--source {src.kind}:{path} holds {NAMES[top]}, not {NAMES[src.kind]} "
                            f"({wrong[top]} of {checked} files checked); use --source {better}:{path}")
        warn(f"medcorpus: warning: --source {src.kind}:{path}: {sum(wrong.values())} of {checked} files checked "
             f"look like {NAMES[top]}; they will be read as {src.kind} (and likely rejected)")
