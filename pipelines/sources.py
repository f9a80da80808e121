"""``--source KIND:PATH`` parsing and the driver-side existence check.

The driver only checks that each source matches something (so a typo fails fast with one
line); listing and reading happen inside the pipeline, on the workers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
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
    label: str = ""  # set by ``disambiguate`` when two sources hold the same relative path
    order: int = 0  # position on the command line: a file reached twice is read for the first source

    def as_dict(self) -> dict:
        return {"kind": self.kind, "pattern": self.pattern, "root": self.root, "label": self.label,
                "order": self.order}


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


def input_fingerprint(sources: list[Source], secret: bytes) -> str:
    """A keyed hash (HMAC-SHA256 with the run secret) of every input file's relative path, size and
    modification time (listing only, no reads).

    The same test make and rsync use: an unchanged fingerprint means no input was added, removed,
    resized or touched since the run that recorded it. It is keyed because it goes into the
    shareable ``manifest.json``: unkeyed, a recipient could test guesses of file names (which often
    carry patient names or MRNs) and of the source paths against it.
    """
    import hashlib
    import hmac

    h = hmac.new(bytes(secret), b"input-fingerprint\x1f", hashlib.sha256)
    for src in sorted(sources, key=lambda s: (s.kind, s.pattern)):
        metas = FileSystems.match([src.pattern])[0].metadata_list
        h.update(f"{src.kind}\x1f{src.pattern}\x1e".encode())
        for meta in sorted(metas, key=lambda m: m.path):
            rel = meta.path[len(src.root):] if meta.path.startswith(src.root) else meta.path
            stamp = getattr(meta, "last_updated_in_seconds", 0) or 0
            h.update(f"{rel}\x1f{meta.size_in_bytes}\x1f{stamp:.6f}\x1e".encode())
    return h.hexdigest()


def _suffix_labels(roots: list[str]) -> list[str] | None:
    """The shortest trailing path components that tell the roots apart (``siteA``, ``siteB``)."""
    parts = [[p for p in r.replace("\\", "/").split("/") if p and not p.endswith(":")] for r in roots]
    for k in range(1, max((len(p) for p in parts), default=0) + 1):
        labels = ["/".join(p[-k:]) for p in parts]
        if all(labels) and len(set(labels)) == len(labels):
            return labels
    return None


def disambiguate(sources: list[Source]) -> list[Source]:
    """Drop repeated sources, number them, and label sources whose files would share a name.

    Two sources of the same kind that hold the same relative path (``a/notes.txt`` and
    ``b/notes.txt``) would give two different files one name: one row id, one lineage entry, one
    ``deid`` output path. Each such source gets a label (the trailing components of its root that
    tell the roots apart, or ``source-N``), and its files are named ``KIND:LABEL/relative path``.
    Listing happens here on the driver only when two sources share a kind.
    """
    from transforms.io.listing import list_source, relative_source

    unique = [replace(s, order=i) for i, s in enumerate(dict.fromkeys(replace(s, order=0) for s in sources))]
    by_kind: dict[str, list[Source]] = {}
    for s in unique:
        by_kind.setdefault(s.kind, []).append(s)
    labels: dict[int, str] = {}
    for kind, group in by_kind.items():
        if len(group) < 2:
            continue
        names: dict[str, dict[int, set]] = {}
        listed = {s.order: list_source(s.as_dict()) for s in group}
        for s in group:
            for f in listed[s.order]:
                names.setdefault(relative_source(kind, f["path"], s.root), {}).setdefault(s.order, set()).add(f["key"])
        clashing = sorted({order for owners in names.values() if len(set().union(*owners.values())) > 1
                           and len(owners) > 1 for order in owners})
        if not clashing:
            continue
        chosen = _suffix_labels([unique[o].root for o in clashing]) or [f"source-{o + 1}" for o in clashing]
        taken = set(names)
        if any(f"{kind}:{lab}/{name.split(':', 1)[1]}" in taken for lab in chosen for name in names):
            chosen = [f"source-{o + 1}" for o in clashing]
        labels.update(zip(clashing, chosen))
    return [replace(s, label=labels.get(s.order, "")) for s in unique]
