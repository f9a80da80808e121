"""Boilerplate filter for pretraining text: templated lines found in many documents are removed.

A line (normalised: NFKC, case-folded, whitespace collapsed) that occurs in at least
``min_doc_share`` of the corpus's text documents, and in at least ``min_docs`` of them, is template
text ("No Known Allergies.", "Patient identifies as heterosexual.", a date header): it is cut from
every document; markdown headers are kept when ``keep_headers`` is set, unless their section is left
empty. A document left with nothing
but boilerplate is filtered (``boilerplate_only``). Policy: ``boilerplate`` in quality.yaml. Task
builders read the records, not these documents, so their prompts keep whole notes.
"""
from __future__ import annotations

import re
import unicodedata

import apache_beam as beam

from transforms.base import EVENTS, Filter, Operator, event

_WS = re.compile(r"\s+")


def line_key(line: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", line).casefold()).strip()


def doc_lines(doc: dict):
    """(language, line key) once per distinct non-empty line of a text document."""
    if doc.get("modality") != "text":
        return
    for key in sorted({line_key(line) for line in (doc.get("text") or "").splitlines()} - {""}):
        yield doc.get("language") or "other", key


def strip_text(text: str, language: str, boiler: set, keep_headers: bool) -> tuple[str, int]:
    kept, removed = [], 0
    for line in text.splitlines():
        key = line_key(line)
        if key and (language, key) in boiler and not (keep_headers and line.lstrip().startswith("#")):
            removed += 1
            continue
        kept.append(line)
    # a header whose section lost all its lines goes too
    content = [i for i, line in enumerate(kept) if line.strip()]
    def level(line: str) -> int:
        stripped = line.lstrip()
        return len(stripped) - len(stripped.lstrip("#"))

    empty_headers = {i for n, i in enumerate(content) if level(kept[i]) and removed
                     and (n + 1 == len(content) or 0 < level(kept[content[n + 1]]) <= level(kept[i]))}
    removed += len(empty_headers)
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(l for i, l in enumerate(kept) if i not in empty_headers)).strip()
    return out, removed


class StripDocument(Operator):
    stage = "boilerplate"
    ledger = "documents"

    def __init__(self, keep_headers: bool):
        super().__init__()
        self.keep_headers = keep_headers

    def origin(self, doc):
        return (doc.get("doc_id", ""), "document", doc.get("source_kind", ""))

    def process(self, element, boiler=()):
        self._boiler = boiler
        yield from super().process(element)

    def apply(self, doc: dict):
        if doc.get("modality") != "text" or not self._boiler:
            return [doc]
        boiler = self._boiler if isinstance(self._boiler, set) else set(map(tuple, self._boiler))
        self._boiler = boiler
        text, removed = strip_text(doc["text"], doc.get("language") or "other", boiler, self.keep_headers)
        if not removed:
            return [doc]
        if not re.sub(r"[#\s]", "", text):
            raise Filter("boilerplate_only")
        return [event("boilerplate", "boilerplate", "lines_removed", "", doc.get("source_kind", ""), removed),
                event("boilerplate", "boilerplate", "documents_changed", "", doc.get("source_kind", "")),
                {**doc, "text": text}]


def _threshold(n_docs: int, share: float, min_docs: int) -> int:
    return max(int(min_docs), int(-(-share * n_docs // 1)))


class StripBoilerplate(beam.PTransform):
    """documents -> {"documents", "events", "rejected"} with corpus-wide templated lines removed."""

    def __init__(self, policy: dict | None):
        super().__init__()
        cfg = (policy or {}).get("boilerplate") or {}
        self.enabled = bool(cfg.get("enabled", True))
        self.share = float(cfg.get("min_doc_share", 0.1))
        self.min_docs = int(cfg.get("min_docs", 20))
        self.keep_headers = bool(cfg.get("keep_headers", True))

    def expand(self, documents):
        if not self.enabled:
            boiler = documents.pipeline | "NoBoilerplate" >> beam.Create([])
        else:
            n_docs = (documents | "TextDocs" >> beam.Filter(lambda d: d.get("modality") == "text")
                      | "CountDocs" >> beam.combiners.Count.Globally())
            boiler = (documents
                      | "Lines" >> beam.FlatMap(doc_lines)
                      | "LineDocs" >> beam.combiners.Count.PerElement()
                      | "Frequent" >> beam.Filter(lambda kv, n, share, low: kv[1] >= _threshold(n, share, low),
                                                  beam.pvalue.AsSingleton(n_docs), self.share, self.min_docs)
                      | "LineOnly" >> beam.Map(lambda kv: kv[0]))
        res = documents | "Strip" >> beam.ParDo(StripDocument(self.keep_headers),
                                                 boiler=beam.pvalue.AsList(boiler)).with_outputs(
            "rejected", EVENTS, main="documents")
        return {"documents": res.documents, "events": res[EVENTS], "rejected": res.rejected}
