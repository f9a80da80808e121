"""Find the notes inside FHIR resources: attachments, report text, sections, notes, narratives."""
from __future__ import annotations

from transforms.io.text_formats import attachment_plain_text, html_to_text

__all__ = ["extract_notes", "attachment_text", "html_to_text"]


def _date(value) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _coding_display(cc) -> str | None:
    if not isinstance(cc, dict):
        return None
    for c in cc.get("coding") or []:
        if isinstance(c, dict) and c.get("display"):
            return c["display"]
    return cc.get("text")


def attachment_text(att: dict) -> tuple[str | None, str]:
    """(plain text, content type) of a FHIR Attachment, or (None, reason) when it holds no usable
    text. What is text, and how markup becomes plain text, is decided in ``transforms.io.text_formats``."""
    return attachment_plain_text(att if isinstance(att, dict) else {})


def extract_notes(resource: dict) -> list[dict]:
    rtype = resource.get("resourceType")
    notes: list[dict] = []

    def add(field, text, ctype, date, doc_type):
        if isinstance(text, str) and text.strip():
            notes.append({"field": field, "text": text.strip(), "content_type": ctype, "date": _date(date),
                          "doc_type": doc_type})

    if rtype == "DocumentReference":
        doc_type = _doc_type(_coding_display(resource.get("type")))
        for i, content in enumerate(resource.get("content") or []):
            att = (content or {}).get("attachment") or {}
            text, ctype = attachment_text(att)
            add(f"DocumentReference.content[{i}].attachment", text, ctype, resource.get("date"), doc_type)
    elif rtype == "DiagnosticReport":
        date = resource.get("effectiveDateTime") or resource.get("issued")
        for i, att in enumerate(resource.get("presentedForm") or []):
            text, ctype = attachment_text(att or {})
            add(f"DiagnosticReport.presentedForm[{i}]", text, ctype, date, "report")
        add("DiagnosticReport.conclusion", resource.get("conclusion"), "text/plain", date, "report")
    elif rtype == "Composition":
        for i, section in enumerate(resource.get("section") or []):
            div = ((section or {}).get("text") or {}).get("div")
            if div:
                add(f"Composition.section[{i}].text", html_to_text(div), "text/html", resource.get("date"),
                    "clinical_note")
    if rtype in ("Observation", "Condition", "Procedure", "MedicationRequest", "AllergyIntolerance"):
        for i, note in enumerate(resource.get("note") or []):
            add(f"{rtype}.note[{i}]", (note or {}).get("text"), "text/plain",
                resource.get("effectiveDateTime") or resource.get("recordedDate"), "clinical_note")
    narrative = resource.get("text") or {}
    if isinstance(narrative, dict) and narrative.get("div") and narrative.get("status") in ("additional", "extensions"):
        add(f"{rtype}.text.div", html_to_text(narrative["div"]), "text/html", None, "narrative")
    return notes


def _doc_type(display: str | None) -> str:
    d = (display or "").lower()
    if "discharge" in d:
        return "discharge_summary"
    if "report" in d or "imaging" in d or "radiology" in d:
        return "report"
    return "clinical_note"
