"""Find the notes inside FHIR resources: attachments, report text, sections, notes, narratives."""
from __future__ import annotations

import base64
import binascii
from html.parser import HTMLParser


class _TextOnly(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed markup: keep what was parsed
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return "\n".join(l for l in lines if l).strip()


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
    """(text, content_type) of a FHIR Attachment, or (None, reason) when it holds no usable text."""
    ctype = (att.get("contentType") or "text/plain").split(";")[0].strip().lower()
    if ctype not in ("text/plain", "text/html", "text/markdown", "application/xhtml+xml"):
        return None, "unsupported_content_type"
    raw = att.get("data")
    if not isinstance(raw, str):
        return None, "no_inline_data"
    try:
        data = base64.b64decode(raw, validate=False)
        text = data.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, "undecodable_attachment"
    if ctype in ("text/html", "application/xhtml+xml"):
        text = html_to_text(text)
    return text, ctype


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
