"""Input limits (``limits:`` in the build config) and the checks every reader applies.

A hit is never a crash and never a silent drop: the reader rejects the smallest unit that broke
the limit (an archive, a resource, a line, a CSV row) with a ``LimitExceeded`` kind and a message
that names the limit and the measured size, never a value from the input.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

MB = 1024 * 1024

#: attachment content types whose inline ``data`` is de-identified as text (as in ``fhir_deid``)
TEXT_CONTENT_TYPES = ("text/plain", "text/html", "text/markdown", "application/xhtml+xml")


class LimitExceeded(Exception):
    """A configured limit was hit; ``kind`` is the reject kind, ``message`` is PHI-free."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Safe defaults; ``from_config`` reads the ``limits`` section (missing keys keep these)."""

    max_file_mb: float = 256  # a file larger than this on disk is not read
    max_decompressed_mb: float = 256  # an archive (gzip, zip: all members together) may expand to this
    max_compression_ratio: float = 200  # decompressed / compressed bytes of one archive
    ratio_grace_mb: float = 1  # the ratio is checked once this much has been decompressed
    max_json_depth: int = 64  # nesting of objects and lists inside one resource or JSONL line
    max_note_chars: int = 1_000_000  # characters of one note / text field (spaCy's own default cap)
    max_bundle_entries: int = 100_000  # entries of one Bundle
    max_csv_cell_chars: int = 1_000_000  # characters of one CSV cell

    @classmethod
    def from_config(cls, config: dict | None) -> "Limits":
        section = dict((config or {}).get("limits") or {})
        known = {f.name: f.type for f in fields(cls)}
        values = {}
        for name, value in section.items():
            if name in known and value is not None:
                try:
                    number = int(value) if known[name] == "int" else float(value)
                except (TypeError, ValueError):
                    number = -1
                if isinstance(value, bool) or not number > 0:
                    raise ValueError(f"limits.{name} must be a positive number")
                values[name] = number
        return cls(**values)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_decompressed_bytes(self) -> int:
        return int(self.max_decompressed_mb * MB)

    @property
    def ratio_grace_bytes(self) -> int:
        return int(self.ratio_grace_mb * MB)

    def with_max_bytes(self, max_bytes: int) -> "Limits":
        """The same limits with the file and decompressed caps set to ``max_bytes`` (tests, old callers)."""
        from dataclasses import replace

        return replace(self, max_file_mb=max_bytes / MB, max_decompressed_mb=max_bytes / MB)

    def check_text(self, text: str, what: str = "note") -> None:
        if len(text) > self.max_note_chars:
            raise LimitExceeded("text_too_long", f"{what} holds {len(text)} characters, over the configured cap of "
                                                 f"{self.max_note_chars} (limits.max_note_chars)")


def check_json(obj, limits: Limits, what: str = "resource") -> None:
    """Depth and text-length limits of one parsed JSON value, walked without recursion.

    Strings count by length; the inline ``data`` of a text attachment (or of one without a
    content type) counts by its decoded size, since that is the note the de-identifier will read.
    """
    max_depth, max_chars = limits.max_json_depth, limits.max_note_chars
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise LimitExceeded("too_deeply_nested", f"{what} nests objects and lists deeper than the configured "
                                                         f"{max_depth} levels (limits.max_json_depth)")
            data = node.get("data")
            textual = isinstance(data, str) and str(node.get("contentType") or "text/plain").split(";")[0].strip() \
                .lower() in TEXT_CONTENT_TYPES
            for key, value in node.items():
                if isinstance(value, str):
                    n = len(value) * 3 // 4 if (key == "data" and textual) else len(value)
                    if key == "data" and not textual:
                        continue  # a base64 image or PDF: bounded by the file cap, never read as text
                    if n > max_chars:
                        raise LimitExceeded("text_too_long", f"a text field of this {what} holds about {n} "
                                                             f"characters, over the configured cap of {max_chars} "
                                                             "(limits.max_note_chars)")
                elif isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise LimitExceeded("too_deeply_nested", f"{what} nests objects and lists deeper than the configured "
                                                         f"{max_depth} levels (limits.max_json_depth)")
            for value in node:
                if isinstance(value, str):
                    if len(value) > max_chars:
                        raise LimitExceeded("text_too_long", f"a text field of this {what} holds {len(value)} "
                                                             f"characters, over the configured cap of {max_chars} "
                                                             "(limits.max_note_chars)")
                elif isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
