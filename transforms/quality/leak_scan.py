"""Residual-PHI scan of written outputs, with patterns independent of the de-identifier.

Used by tests and by ``medcorpus validate``: SSNs, phone numbers (US, Chinese mobile and
landline), e-mail addresses, Chinese resident ID numbers with a valid check digit, site record-number
formats (``extra_patterns``), and canary strings a test plants in the input. Results name the kind and position only.
"""
from __future__ import annotations

import re

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PATTERNS = {
    # numbers next to lower-case hex letters are parts of UUIDs and hashes (plotly's div ids), not identifiers
    "ssn": re.compile(r"(?<![\da-f-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\da-f-])"),
    "us_phone": re.compile(r"(?<![\da-f-])\(?\d{3}\)?[ .-](?!555[.-]01\d\d)\d{3}[.-]\d{4}(?![\da-f-])"),
    # not inside a longer number or a decimal, but a full stop that ends a sentence still counts
    "cn_mobile": re.compile(r"(?<![\dA-Za-z])(?<!\d\.)1[3-9]\d{9}(?![\dA-Za-z]|\.\d)"),
    "cn_landline": re.compile(r"(?<![\da-f.-])(?!000)0\d{2,3}-\d{7,8}(?![\da-f.-])"),
    "email": re.compile(r"[A-Za-z0-9._%+-]+@(?!example\.(?:org|com|net)\b)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "cn_resident_id": re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"),
}
#: province-level codes that open a real resident ID number (GB/T 2260)
CN_PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
                "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}


def _cn_id_ok(v: str) -> bool:
    v = v.upper()
    return v[:17].isdigit() and v[:2] in CN_PROVINCES and "10X98765432"[sum(int(d) * w for d, w in zip(v[:17], _W)) % 11] == v[17]


def scan_text(text: str, canaries=(), extra_patterns: dict | None = None) -> list[dict]:
    """Hits as {kind, start, end}. ``extra_patterns`` adds site formats (e.g. a hospital's MRN regex)."""
    if not text:
        return []
    hits = []
    for kind, rx in {**PATTERNS, **(extra_patterns or {})}.items():
        for m in rx.finditer(text):
            if kind == "cn_resident_id" and not _cn_id_ok(m.group()):
                continue
            hits.append({"kind": kind, "start": m.start(), "end": m.end()})
    for canary in canaries:
        start = text.find(canary)
        while canary and start >= 0:
            hits.append({"kind": "canary", "start": start, "end": start + len(canary)})
            start = text.find(canary, start + 1)
    return hits


def scan_table(rows, text_columns, canaries=()) -> dict:
    counts: dict[str, int] = {}
    for row in rows:
        for col in text_columns:
            for hit in scan_text(row.get(col) or "", canaries):
                counts[hit["kind"]] = counts.get(hit["kind"], 0) + 1
    return counts
