"""De-identify stage, documents of nobody: guidelines, literature, QA sets and notes whose patient is
unknown. The text de-identifier runs without known PHI, with a per-document keyed date shift
(``transforms.deid.keys.document_date_shift_days``) applied to the text and the ``date`` column."""
from __future__ import annotations

from apache_beam import pvalue

from transforms.base import IN, OUT, REJECT, REJECTED, event, rejected_row
from transforms.deid.stage import STAGE, _lang, _lineage_input, _shift_iso_date, _TextDeidFn, doc_id_for, input_ref


class DeidentifyStandalone(_TextDeidFn):
    """Documents without a patient (guidelines, literature, QA sets, notes whose patient is unknown):
    the text de-identifier with a per-document keyed date shift, applied to the text and the
    ``date`` column alike (a note without a patient still carries dates of birth and admission)."""

    def process(self, u: dict):
        from transforms.deid.keys import document_date_shift_days

        yield event("units", STAGE, IN, "", "text")
        max_days = int((self.policy.get("date_shift") or {}).get("max_days", 365))
        shift = document_date_shift_days(self.secret, u.get("source", ""), u.get("position", ""), max_days)
        try:
            lang = u.get("language") or _lang(u["text"])
            text, counts = self.text.deidentify(u["text"], language=lang, date_shift_days=shift, known=None)
        except Exception as exc:  # noqa: BLE001
            yield event("units", STAGE, REJECT, f"deid_failed:{type(exc).__name__}", "text")
            yield pvalue.TaggedOutput(REJECTED, rejected_row(u.get("source", ""), u.get("position", ""), "text", STAGE,
                                                             f"deid_failed:{type(exc).__name__}",
                                                             "text de-identification failed; details withheld"))
            return
        yield event("units", STAGE, OUT, "", "text")
        yield _lineage_input(u, None, shift)
        for kind, n in sorted(counts.items()):
            yield event("deid_entities", STAGE, "count", f"text:{kind}", "text", n)
        yield event("documents", STAGE, OUT, "", "text")
        yield {
            "doc_id": doc_id_for(self.secret, "standalone", u.get("source", ""), u.get("position", ""),
                                 str(u.get("doc_id", ""))),
            "patient_key": None, "text": text, "language": lang,
            "doc_type": u.get("doc_type") or "document", "source_kind": "text", "modality": "text",
            "date": _shift_iso_date(u.get("date"), shift), "inputs": [input_ref(u)],
        }
