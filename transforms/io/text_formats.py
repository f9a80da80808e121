"""One decision of what is text, and how it becomes plain text, for every reader and de-identifier.

A FHIR Attachment (or any payload with a MIME type) is text when its content type, normalised
once by :func:`normalize_content_type` (case, parameters such as ``; charset=``, surrounding
spaces, aliases), names a format in :data:`FORMATS`. Marked-up formats (HTML, XHTML, XML such as
CDA, RTF) are converted to plain text by :func:`to_plain_text` *before* de-identification: tags
removed, block elements become line breaks, character references (``&#45;``, ``&nbsp;``) decoded,
RTF control words and ``\\uN`` escapes resolved (``striprtf``), and invisible characters (zero-width
spaces and joiners, soft hyphens, non-breaking and other Unicode spaces) removed or made plain, so
nothing inside a name, a phone number or an address hides it from the recognizers.
"""
from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

#: canonical content type -> text format
FORMATS = {
    "text/plain": "plain",
    "text/markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/xml": "xml",
    "application/xml": "xml",
    "application/hl7-cda+xml": "xml",
    "text/rtf": "rtf",
    "text/csv": "plain",
    "text/tab-separated-values": "plain",
    "application/json": "plain",
    "application/fhir+json": "plain",
}
ALIASES = {
    "text/x-markdown": "text/markdown",
    "text/md": "text/markdown",
    "application/rtf": "text/rtf",
    "application/x-rtf": "text/rtf",
    "text/richtext": "text/rtf",
    "text/x-rtf": "text/rtf",
    "application/html": "text/html",
    "text/xhtml": "application/xhtml+xml",
}
#: the content type of every attachment the de-identifier writes back
PLAIN_UTF8 = "text/plain; charset=utf-8"

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")


def normalize_content_type(value) -> str:
    """``" TEXT/HTML; charset=UTF-8 "`` -> ``"text/html"``; aliases mapped; missing -> ``""``."""
    if not isinstance(value, str):
        return ""
    ctype = value.split(";", 1)[0].strip().lower().replace(" ", "")
    return ALIASES.get(ctype, ctype)


def content_charset(value) -> str | None:
    """The ``charset`` parameter of a content type, or None."""
    if not isinstance(value, str):
        return None
    m = re.search(r";\s*charset\s*=\s*\"?([A-Za-z0-9_\-:.]+)", value, re.IGNORECASE)
    return m[1].lower() if m else None


def text_format(content_type, *, missing_is_text: bool = True) -> str | None:
    """plain | markdown | html | xml | rtf for a text content type, None for anything else. Any
    ``text/*`` type not listed is plain text; a missing content type is plain text (FHIR leaves it
    optional) unless ``missing_is_text`` is false."""
    ctype = normalize_content_type(content_type)
    if not ctype:
        return "plain" if missing_is_text else None
    if ctype in FORMATS:
        return FORMATS[ctype]
    if ctype.endswith("+xml"):
        return "xml"
    if ctype.startswith("text/"):
        return "plain"
    return None


def is_text(content_type) -> bool:
    return text_format(content_type) is not None


class _TextOnly(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section",
             "article", "header", "footer", "blockquote", "pre", "dl", "dt", "dd", "hr", "thead", "tbody", "tfoot",
             "caption", "address", "paragraph", "item", "list", "component", "title"}
    CELL = {"td", "th"}
    SKIP = {"script", "style", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.CELL:
            self.parts.append(" ")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        tag = tag.lower().rsplit(":", 1)[-1]
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.CELL:
            self.parts.append(" ")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _tidy(text: str) -> str:
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text


def html_to_text(markup: str) -> str:
    """Plain text of HTML, XHTML or XML: tags removed, blocks on their own lines, references decoded."""
    parser = _TextOnly()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed markup: keep what was parsed
        pass
    lines = [" ".join(line.split()) for line in _tidy("".join(parser.parts)).split("\n")]
    return "\n".join(l for l in lines if l).strip()


def rtf_to_text(rtf: str) -> str:
    from striprtf.striprtf import rtf_to_text as strip

    try:
        text = strip(rtf, errors="replace")
    except Exception:  # noqa: BLE001 - malformed RTF: drop control words crudely rather than fail
        text = re.sub(r"\\[a-z]+-?\d* ?|[{}]", "", rtf)
    lines = [" ".join(line.split()) for line in _tidy(text).split("\n")]
    return "\n".join(lines).strip()


def to_plain_text(text: str, fmt: str | None) -> str:
    """The plain text of ``text`` in ``fmt`` (see :func:`text_format`)."""
    if fmt in ("html", "xml"):
        return html_to_text(text)
    if fmt == "rtf":
        return rtf_to_text(text)
    return _tidy(text).strip()


def decode_text_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes of a text payload -> str: the declared charset if it decodes, else detection (BOMs,
    UTF-8, GB18030, charset-normalizer). ``UndecodableText`` for binary content."""
    from transforms.io.text_parse import UndecodableText, decode_text

    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return decode_text(data)[0]
    except UndecodableText:
        raise
    except Exception as exc:  # noqa: BLE001 - detection failed: treat as undecodable
        raise UndecodableText("no text encoding fits these bytes") from exc


def attachment_plain_text(att: dict) -> tuple[str | None, str]:
    """(plain text, normalised content type) of an Attachment with inline data, or (None, reason):
    ``unsupported_content_type``, ``no_inline_data``, ``undecodable_attachment``."""
    import base64
    import binascii

    from transforms.io.text_parse import UndecodableText

    raw_type = att.get("contentType")
    fmt = text_format(raw_type)
    if fmt is None:
        return None, "unsupported_content_type"
    raw = att.get("data")
    if not isinstance(raw, str):
        return None, "no_inline_data"
    try:
        data = base64.b64decode(raw, validate=False)
        text = decode_text_bytes(data, content_charset(raw_type))
    except (binascii.Error, UndecodableText, ValueError):
        return None, "undecodable_attachment"
    return to_plain_text(text, fmt), normalize_content_type(raw_type) or "text/plain"
