"""``--source KIND:PATH`` parsing and the driver-side existence check.

The driver only checks that each source matches something (so a typo fails fast with one
line); listing and reading happen inside the pipeline, on the workers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from pipelines.errors import UserError

KINDS = ("fhir", "dicom", "text")
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Source:
    kind: str
    pattern: str  # a FileSystems match pattern
    root: str  # paths in rows are written relative to this

    def as_dict(self) -> dict:
        return {"kind": self.kind, "pattern": self.pattern, "root": self.root}


def parse_source(spec: str) -> Source:
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS:
        raise UserError(f"--source must be KIND:PATH with KIND one of {', '.join(KINDS)} (got '{spec}')")
    if not path:
        raise UserError(f"--source {kind}: needs a path")
    return make_source(kind, path)


def make_source(kind: str, path: str) -> Source:
    is_remote = "://" in path
    if any(c in _GLOB_CHARS for c in path):
        root = path
        while any(c in _GLOB_CHARS for c in root):
            root = os.path.dirname(root)
        return Source(kind, path, root or ".")
    if not is_remote:
        p = Path(path).expanduser().resolve()
        if p.is_dir():
            return Source(kind, str(p / "**"), str(p))
        if p.is_file():
            return Source(kind, str(p), str(p.parent))
        raise UserError(f"source path does not exist: {path}")
    # remote (gs://, s3://...): a directory-like prefix or a file
    if path.endswith("/"):
        return Source(kind, path + "**", path.rstrip("/"))
    return Source(kind, path, path.rsplit("/", 1)[0])


def check_sources(sources: list[Source]) -> None:
    """Fail with one line when a source matches no file at all."""
    for src in sources:
        try:
            result = FileSystems.match([src.pattern])[0]
        except Exception:  # noqa: BLE001 - any filesystem failure is a user-facing error
            raise UserError(f"cannot list source {src.kind}:{src.pattern}") from None
        if not result.metadata_list:
            raise UserError(f"no readable inputs in source {src.kind}:{src.pattern}")


def input_fingerprint(sources: list[Source]) -> str:
    """A hash of every input file's relative path, size and modification time (listing only, no reads).

    The same test make and rsync use: an unchanged fingerprint means no input was added, removed,
    resized or touched since the run that recorded it.
    """
    import hashlib

    h = hashlib.sha256()
    for src in sorted(sources, key=lambda s: (s.kind, s.pattern)):
        metas = FileSystems.match([src.pattern])[0].metadata_list
        h.update(f"{src.kind}\x1f{src.pattern}\x1e".encode())
        for meta in sorted(metas, key=lambda m: m.path):
            rel = meta.path[len(src.root):] if meta.path.startswith(src.root) else meta.path
            stamp = getattr(meta, "last_updated_in_seconds", 0) or 0
            h.update(f"{rel}\x1f{meta.size_in_bytes}\x1f{stamp:.6f}\x1e".encode())
    return h.hexdigest()
