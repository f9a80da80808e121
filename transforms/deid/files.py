"""De-identify whole files in their own formats (``medcorpus deid``).

Each file's kind is recognised from its content. Every person is resolved through the run's
patient index (``transforms.deid.linking``), so a person has one pseudonym, one date shift and one
set of known PHI across FHIR, DICOM and notes, exactly as in ``build``. FHIR goes through the same
datatype-driven de-identifier as ``build`` (Bundles lose their identifier, timestamp, links and
signature); NDJSON keeps its line order; JSONL and CSV notes keep their order and columns: the
text is de-identified, ``patient_id`` becomes the person's pseudonym, ``id`` a keyed id, ``date``
moves by the person's offset, and every other field (metadata of any shape) is de-identified as
text; plain text is de-identified whole. Files are read with the build's readers under its limits
(``transforms.io``): a bad entry, line or row is left out and counted (``rejected:<kind>``) while
the rest of the file is written, and a file that fails as a whole raises ``FileRejected``. Inputs with no person (a note without ``patient_id``, a
text file, a practitioner) move their dates by a per-document keyed offset, never by 0. DICOM is
written as de-identified Part 10 unless quarantined for burned-in text. Every output folder and
file name is keyed (:func:`output_path`): names often carry patient names or MRNs.
"""
from __future__ import annotations

import gzip
import io
import re
from collections import Counter

import orjson

from transforms.deid.keys import date_shift_days, document_date_shift_days, hmac_hex, keyed_uid, patient_key


def sniff_kind(data: bytes, name: str = "") -> str:
    """dicom | zip | fhir-json | fhir-ndjson | jsonl | json | invalid-json | csv | text | binary, from content.

    Text is decoded first (BOM, UTF-16/32, GB18030: ``transforms.io.decode``), so a FHIR file in
    UTF-16 is FHIR, not text. A file that starts like JSON but where neither the whole nor any line
    parses as an object is ``invalid-json`` (one reject), not free text.
    """
    from transforms.io.archive import is_gzip, is_zip
    from transforms.io.decode import UndecodableText, decode_bytes, looks_binary
    from transforms.io.dicom_read import sniff_dicom

    if is_gzip(data):
        try:
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read(1 << 20)  # the head is enough to sniff
        except (OSError, EOFError):
            return "binary"
    if sniff_dicom(data[:132]):
        return "dicom"
    if is_zip(data):
        return "zip"
    if looks_binary(data):
        return "binary"
    try:
        text = decode_bytes(data).text
    except UndecodableText:
        return "binary"
    if text[:4096].lstrip()[:1] in ("{", "["):
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            if "resourceType" in obj:
                return "fhir-json"
            one_note = isinstance(obj.get("text"), str)  # a one-line JSONL file
            return "jsonl" if one_note or name.lower().endswith((".jsonl", ".jsonl.gz")) else "json"
        if obj is not None:
            return "json"
        for line in text.split("\n"):
            try:
                obj = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return "fhir-ndjson" if "resourceType" in obj else "jsonl"
        return "invalid-json"
    if name.lower().endswith((".csv", ".csv.gz")):
        return "csv"
    return "text"


class FileRejected(Exception):
    """The file failed as a whole (one reject of kind ``kind``): nothing is written."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


KEEP_DOC_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$")  # language, doc_type: a code, not free text
TEXT_SUFFIXES = (".txt", ".md", ".text", ".note", ".csv")


def output_path(secret: bytes, rel: str, kind: str, gz: bool) -> str:
    """The keyed relative path of a de-identified file: the layout (folders) is kept, every folder
    and file name is replaced by a keyed name (names often carry patient names or MRNs); the
    extension says the format."""
    parts = [p for p in rel.split("/") if p]
    folders = [hmac_hex(secret, "path", p, 16) for p in parts[:-1]]
    name = parts[-1].lower() if parts else ""
    if name.endswith(".gz"):
        name = name[:-3]
    if kind == "dicom":
        ext = ".dcm"
    elif kind == "fhir-json":
        ext = ".json"
    elif kind == "fhir-ndjson":
        ext = ".ndjson"
    elif kind == "jsonl":
        ext = ".jsonl"
    else:
        ext = next((x for x in TEXT_SUFFIXES if name.endswith(x)), ".txt")
    return "/".join(folders + [hmac_hex(secret, "path", rel, 24) + ext + (".gz" if gz else "")])


class FileDeidentifier:
    """De-identifies one file at a time with the run's patient index (``transforms.deid.linking``)."""

    def __init__(self, secret: bytes, policy: dict, fhir_version: str = "R4", display_tables: tuple = (),
                 limits=None, fhir_mode: str = "lenient"):
        from transforms.deid.text import TextDeidentifier
        from transforms.io.limits import Limits

        self.secret = secret
        self.policy = policy
        self.fhir_version = fhir_version
        self.fhir_mode = fhir_mode
        self.display_tables = tuple(display_tables)
        self.limits = limits or Limits()
        self.text = TextDeidentifier(policy.get("text") or {}, secret)
        self.max_days = int((policy.get("date_shift") or {}).get("max_days", 365))

    @staticmethod
    def _rejects(items: list[dict], counts: Counter) -> list[dict]:
        """Count the parser's rejects (``rejected:<kind>``) and return its units; a file that failed
        as a whole raises ``FileRejected``."""
        if len(items) == 1 and items[0].get("reject") and items[0].get("position") == "file":
            raise FileRejected(items[0]["error_kind"])
        units = []
        for item in items:
            if item.get("reject"):
                counts[f"rejected:{item['error_kind']}"] += 1
            else:
                units.append(item)
        return units

    def _shift(self, person: str) -> int:
        return date_shift_days(self.secret, person, self.max_days)

    def _doc_shift(self, source: str, position: str) -> int:
        return document_date_shift_days(self.secret, source, position, self.max_days)

    def _deid(self, text: str, shift: int, known, counts: Counter, language: str | None = None) -> str:
        from transforms.io.text_parse import detect_language

        lang = language if language in ("en", "zh", "mixed", "other") else detect_language(text)[0]
        out, c = self.text.deidentify(text, language=lang, date_shift_days=shift, known=known)
        counts.update({f"text:{k}": v for k, v in c.items()})
        return out

    # ------------------------------------------------------------------------------ FHIR
    def _resources(self, units: list[dict], counts: Counter, linker, source: str) -> dict[str, dict]:
        """position -> de-identified resource, per patient; a resource that fails alone is left out and
        counted (``rejected:deid_failed:<error>``), the rest of its patient goes on."""
        from transforms.deid.fhir_deid import deidentify_patient_resources, over_age_cap
        from transforms.deid.isolate import deidentify_isolating, first_that_works, patient_shape_for_known_phi
        from transforms.deid.known import known_phi_for_patient
        from transforms.terminology.displays import preferred_display

        groups: dict[str, list[dict]] = {}
        for u in units:
            groups.setdefault(u.get("patient_ref") or "", []).append(u)
        out: dict[str, dict] = {}
        tables = self.display_tables
        for pid, group_units in sorted(groups.items()):
            group = [u["resource"] for u in group_units]
            patient = next((r for r in group if r.get("resourceType") == "Patient"), None) or linker.patient(pid)
            if pid:
                over = first_that_works(lambda: linker.over_age(pid) if linker.patient(pid) else None)
                if over is None:
                    over = bool(patient) and bool(first_that_works(
                        lambda: over_age_cap(group, patient, self.policy.get("fhir") or {})))
                known = first_that_works(  # a malformed Patient: its PHI from a repaired copy, or none
                    lambda: known_phi_for_patient(patient, over, (), linker.age_cap),
                    lambda: known_phi_for_patient(patient_shape_for_known_phi(patient), over, (), linker.age_cap))
                shift = self._shift(pid)
            else:  # resources of no patient (practitioners, organisations...): a per-file offset
                over, known, shift = None, None, self._doc_shift(source, "file")

            def text_deid(t, lang=None, _s=shift, _k=known):
                return self.text.deidentify(t, language=lang or _lang(t), date_shift_days=_s, known=_k)

            def run(rs, _pid=pid, _s=shift, _td=text_deid, _over=over):
                return deidentify_patient_resources(
                    rs, secret=self.secret, patient_id=_pid or "none", date_shift_days=_s, text_deid=_td,
                    policy=self.policy.get("fhir") or {}, fhir_version=self.fhir_version, over_age=_over,
                    display=lambda system, code, language: preferred_display(system, code, language, tables=tables))

            try:
                new, c, kept, bad = deidentify_isolating(group, run)
            except Exception as exc:  # noqa: BLE001 - this patient's resources are left out, the file goes on
                counts[f"rejected:deid_failed:{type(exc).__name__}"] += len(group)
                continue
            for _, exc_name in bad:
                counts[f"rejected:deid_failed:{exc_name}"] += 1
            counts.update({f"fhir:{k}": v for k, v in c.items()})
            for i, r in zip(kept, new):
                out[group_units[i]["position"]] = r
        return out

    @staticmethod
    def _entry(e: dict) -> dict | None:
        """A Bundle entry keeps its resource, a keyed fullUrl, the request method and the search mode."""
        resource = e.get("resource")
        if not isinstance(resource, dict):
            return None  # a request without a resource (e.g. a DELETE) names a raw id: not written
        rid, rtype = resource.get("id"), resource.get("resourceType")
        if rtype == "Bundle":
            rid = None
        entry = {"fullUrl": f"urn:uuid:{rid}" if rid and e.get("fullUrl") else None, "resource": resource}
        if isinstance(e.get("request"), dict):
            entry["request"] = {"method": e["request"].get("method"), "url": rtype}
        if isinstance(e.get("search"), dict):
            entry["search"] = {k: v for k, v in e["search"].items() if k in ("mode", "score")}
        return {k: v for k, v in entry.items() if v is not None}

    def _shell(self, doc: dict) -> dict:
        """The Bundle's own identifier, timestamp, links, signature and meta (other than profiles) go."""
        return {"resourceType": "Bundle", **({"id": hmac_hex(self.secret, "bundle", str(doc["id"]), 32)}
                                             if doc.get("id") else {}),
                **({"meta": {"profile": doc["meta"]["profile"]}} if isinstance(doc.get("meta"), dict)
                   and doc["meta"].get("profile") else {}),
                **{k: doc[k] for k in ("type", "total") if k in doc}, "entry": doc.get("entry") or []}

    def fhir_file(self, data: bytes, counts: Counter, linker=None, source: str = "") -> bytes | None:
        """A FHIR Bundle, resource or NDJSON file, read as ``build`` reads it; None when no unit is left."""
        from transforms.deid.linking import Linker
        from transforms.io.fhir_parse import read_fhir, rebuild

        parsed = read_fhir(data, source, fhir_version=self.fhir_version, mode=self.fhir_mode, limits=self.limits)
        units = self._rejects(parsed.items, counts)
        if not units:
            return None
        resources = self._resources(units, counts, linker or Linker(), source)
        return rebuild(parsed, resources, fix_entry=self._entry, fix_bundle=self._shell)

    fhir_json = fhir_ndjson = fhir_file

    # ------------------------------------------------------------------------------ notes
    def _note_id(self, value, counts: Counter, known=None):
        """A note's own id: kept when it carries no identifier (policy ``text.note_ids: detect``), so
        de-identified notes still join their annotations and gold sets; keyed when it holds six or
        more digits (a record, accession or phone number), a record-number cue, or anything the
        detector or the person's known PHI finds; ``key`` always keys, ``keep`` never does."""
        mode = str((self.policy.get("text") or {}).get("note_ids", "detect"))
        text = str(value)
        if mode == "keep" or (mode == "detect" and isinstance(value, (str, int)) and not isinstance(value, bool)
                              and sum(c.isdigit() for c in text) < 6
                              and not re.search(r"(?i)mrn|acc(?:ession)?|ssn|pid|chart|record", text)
                              and not self.text.analyze(text.replace("-", " ").replace("_", " "), language="en",
                                                        known=known)
                              and not self.text.analyze(text, language="en", known=known)):
            counts["notes:id_kept"] += 1
            return value
        counts["notes:id_pseudonymized"] += 1
        return "d-" + hmac_hex(self.secret, "document-id", text, 24)

    def _note_fields(self, obj: dict, counts: Counter, linker, source: str, position: str,
                     text_field: str = "text") -> dict:
        """One JSONL object or CSV row: every field de-identified by what it is (allow-list design)."""
        pid = str(obj.get("patient_id") or "").strip()
        if pid:
            person = linker.person(pid)
            shift, known = self._shift(person), linker.known(person)
        else:
            person, shift, known = None, self._doc_shift(source, position), None
        language = obj.get("language") if isinstance(obj.get("language"), str) else None
        out = {}
        for k, v in obj.items():
            if k == text_field and isinstance(v, str):
                out[k] = self._deid(v, shift, known, counts, language)
            elif k == "patient_id":
                out[k] = patient_key(self.secret, person) if person else v
            elif k == "id" and v not in (None, ""):
                out[k] = self._note_id(v, counts, known)
            elif k == "date" and isinstance(v, str) and v.strip():
                out[k] = _shift_date_value(v, shift)
                counts["notes:date_shifted"] += 1
            elif k in ("language", "doc_type") and isinstance(v, str) and KEEP_DOC_FIELD.match(v):
                out[k] = v
            else:
                out[k] = self._any(v, shift, known, counts)
        return out

    def _any(self, v, shift: int, known, counts: Counter):
        """Metadata of any shape: strings de-identified, numbers and booleans kept."""
        if isinstance(v, str):
            counts["notes:metadata_deidentified"] += 1
            return self._deid(v, shift, known, counts)
        if isinstance(v, dict):
            return {k: self._any(x, shift, known, counts) for k, x in v.items()}
        if isinstance(v, list):
            return [self._any(x, shift, known, counts) for x in v]
        return v

    def _notes(self, parsed, counts: Counter, linker, source: str, text_field: str = "text") -> list[dict]:
        out = []
        for u in self._rejects(parsed.items, counts):
            try:
                out.append(self._note_fields(parsed.objects[u["position"]], counts, linker, source, u["position"],
                                             text_field))
            except Exception as exc:  # noqa: BLE001 - this line is left out, the file goes on
                counts[f"rejected:deid_failed:{type(exc).__name__}"] += 1
        return out

    def jsonl(self, data: bytes, counts: Counter, linker=None, source: str = "") -> bytes | None:
        """JSONL notes read as ``build`` reads them (a bad line is left out and counted)."""
        from transforms.deid.linking import Linker
        from transforms.io.text_parse import read_text

        parsed = read_text(data, source, limits=self.limits, shape="jsonl", keep_objects=True)
        out = [orjson.dumps(o) for o in self._notes(parsed, counts, linker or Linker(), source)]
        return b"\n".join(out) + b"\n" if out else None

    def csv_file(self, data: bytes, counts: Counter, linker=None, source: str = "",
                 text_column: str = "text") -> bytes | None:
        """CSV rows read as ``build`` reads them (a row with a cell over the limit is left out and counted);
        a CSV without the text column is de-identified as one text."""
        import csv

        from transforms.deid.linking import Linker
        from transforms.io.text_parse import read_text

        parsed = read_text(data, source, limits=self.limits, shape="csv", keep_objects=True)
        if text_column not in parsed.columns:
            return self.text_file(data, source, counts)
        rows = self._notes(parsed, counts, linker or Linker(), source, text_column)
        if not rows:
            return None
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=parsed.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if k is not None} for row in rows)
        return buf.getvalue().encode("utf-8")

    def text_file(self, data: bytes, source: str, counts: Counter) -> bytes:
        """A text file decoded as ``build`` decodes it, under ``limits.max_note_chars``, de-identified whole."""
        from transforms.io.archive import unwrap
        from transforms.io.decode import UndecodableText, decode_bytes
        from transforms.io.limits import LimitExceeded

        try:
            text = decode_bytes(unwrap(data, self.limits)).text
            self.limits.check_text(text, "the file")
        except UndecodableText:
            raise FileRejected("undecodable_text") from None
        except LimitExceeded as exc:
            raise FileRejected(exc.kind) from None
        if not text.strip():
            raise FileRejected("empty_text")
        return self._deid(text, self._doc_shift(source, "file"), None, counts).encode("utf-8")

    # ------------------------------------------------------------------------------ DICOM
    def dicom(self, data: bytes, counts: Counter, linker=None) -> tuple[bytes | None, str | None]:
        from transforms.deid.burned_in import burned_in_risk
        from transforms.deid.dicom_profile import DicomPolicy, deidentify_dataset
        from transforms.deid.linking import Linker
        from transforms.deid.pixel_text import PixelTextPolicy, header_tokens, known_tokens, screen_dataset
        from transforms.io.dicom_read import read_dataset

        linker = linker or Linker()
        policy = DicomPolicy.from_dict(self.policy.get("dicom") or {})
        pixel_policy = PixelTextPolicy.from_dict(policy.pixel_text)
        ds = read_dataset(data, headers_only=False)
        tokens = header_tokens(ds)  # read before de-identification: the values OCR may find in the pixels
        reason = burned_in_risk(ds, policy)
        if reason and pixel_policy.at_risk != "redact":
            counts[f"dicom:quarantined:{reason}"] += 1
            return None, reason
        pid = str(ds.get("PatientID", "") or "").strip()
        study = str(ds.get("StudyInstanceUID", "") or "").strip()
        person = linker.person(pid or "study:" + study)  # as build links it (no PatientID: the study's person)
        shift = self._shift(person)
        known = linker.known(person, [ds])
        tokens |= known_tokens(known)
        memo: dict = {}

        def text_deid(t):
            if t not in memo:
                memo[t] = self._deid(t, shift, known, counts, "en")
            return memo[t]

        result = deidentify_dataset(ds, patient_pseudonym=patient_key(self.secret, person), date_shift_days=shift,
                                    uid_map=lambda u: keyed_uid(self.secret, u), text_deid=text_deid, policy=policy)
        counts.update({f"dicom:action:{k}": v for k, v in result.actions.items()})
        screening = screen_dataset(result.dataset, pixel_policy, tokens)  # burned-in text, whatever the header says
        if screening.action == "quarantine":
            counts[f"dicom:quarantined:pixel_text:{screening.reason}"] += 1
            return None, f"pixel_text:{screening.reason}"
        if screening.action == "redacted":
            counts[f"dicom:pixel_text_redacted:{pixel_policy.mode}"] += 1
        buf = io.BytesIO()
        result.dataset.save_as(buf, enforce_file_format=False)
        return buf.getvalue(), None


def _lang(text: str) -> str:
    from transforms.io.text_parse import detect_language

    return detect_language(text)[0]


def _shift_date_value(value: str, shift: int) -> str:
    """A note's ``date`` moved by its offset, in its own format (ISO or as written); [DATE] if unreadable."""
    import datetime as dt

    from transforms.deid.fhir_walk import shift_fhir_date

    v = value.strip()
    shifted = shift_fhir_date(v, shift)
    if shifted is not None:
        return shifted
    try:
        d = dt.date.fromisoformat(v[:10])
        return (d + dt.timedelta(days=shift)).isoformat()
    except ValueError:
        pass
    from transforms.deid.text.dates import shift_date_text

    return shift_date_text(v, shift) or "[DATE]"
