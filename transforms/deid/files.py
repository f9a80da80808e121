"""De-identify whole files in their own formats (``medcorpus deid``).

Each file's kind is recognised from its content. Every person is resolved through the run's
patient index (``transforms.deid.linking``), so a person has one pseudonym, one date shift and one
set of known PHI across FHIR, DICOM and notes, exactly as in ``build``. FHIR goes through the same
datatype-driven de-identifier as ``build`` (Bundles lose their identifier, timestamp, links and
signature); NDJSON keeps its line order; JSONL and CSV notes keep their order and columns: the
text is de-identified, ``patient_id`` becomes the person's pseudonym, ``id`` a keyed id, ``date``
moves by the person's offset, and every other field (metadata of any shape) is de-identified as
text; plain text is de-identified whole. Inputs with no person (a note without ``patient_id``, a
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
    """dicom | fhir-json | fhir-ndjson | jsonl | csv | text | binary, from content."""
    from transforms.io.dicom_read import sniff_dicom
    from transforms.io.text_parse import looks_binary

    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return "binary"
    if sniff_dicom(data[:132]):
        return "dicom"
    head = data[:4096].lstrip()
    if head.startswith(b"{"):
        first = data.lstrip().split(b"\n", 1)[0]
        try:
            obj = orjson.loads(data)
            if isinstance(obj, dict) and "resourceType" in obj:
                return "fhir-json"
            one_note = isinstance(obj, dict) and isinstance(obj.get("text"), str)  # a one-line JSONL file
            return "jsonl" if one_note or name.lower().endswith((".jsonl", ".jsonl.gz")) else "json"
        except orjson.JSONDecodeError:
            try:
                obj = orjson.loads(first)
            except orjson.JSONDecodeError:
                return "text"
            return "fhir-ndjson" if isinstance(obj, dict) and "resourceType" in obj else "jsonl"
    if looks_binary(data):
        return "binary"
    if name.lower().endswith(".csv"):
        return "csv"
    return "text"


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

    def __init__(self, secret: bytes, policy: dict, fhir_version: str = "R4", display_tables: tuple = ()):
        from transforms.deid.text import TextDeidentifier

        self.secret = secret
        self.policy = policy
        self.fhir_version = fhir_version
        self.display_tables = tuple(display_tables)
        self.text = TextDeidentifier(policy.get("text") or {}, secret)
        self.max_days = int((policy.get("date_shift") or {}).get("max_days", 365))

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
    def _resources(self, resources: list[dict], counts: Counter, linker, source: str) -> list[dict]:
        from transforms.deid.fhir_deid import deidentify_patient_resources
        from transforms.io.fhir_parse import patient_ref_of
        from transforms.terminology.displays import preferred_display

        full = {f"urn:uuid:{r.get('id')}": r for r in resources if r.get("id")}
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(resources):
            groups.setdefault(patient_ref_of(r, full) or "", []).append(i)
        out: list[dict | None] = [None] * len(resources)
        tables = self.display_tables
        for pid, idx in sorted(groups.items()):
            group = [resources[i] for i in idx]
            patient = next((r for r in group if r.get("resourceType") == "Patient"), None) or linker.patient(pid)
            if pid:
                over = linker.over_age(pid) if linker.patient(pid) else None
                from transforms.deid.known import known_phi_for_patient
                from transforms.deid.fhir_deid import over_age_cap

                if over is None:
                    over = bool(patient) and over_age_cap(group, patient, self.policy.get("fhir") or {})
                known = known_phi_for_patient(patient, over, (), linker.age_cap)
                shift = self._shift(pid)
            else:  # resources of no patient (practitioners, organisations...): a per-file offset
                over, known, shift = None, None, self._doc_shift(source, "file")

            def text_deid(t, lang=None, _s=shift, _k=known):
                return self.text.deidentify(t, language=lang or _lang(t), date_shift_days=_s, known=_k)

            new, c = deidentify_patient_resources(
                group, secret=self.secret, patient_id=pid or "none", date_shift_days=shift, text_deid=text_deid,
                policy=self.policy.get("fhir") or {}, fhir_version=self.fhir_version, over_age=over,
                display=lambda system, code, language: preferred_display(system, code, language, tables=tables))
            counts.update({f"fhir:{k}": v for k, v in c.items()})
            for i, r in zip(idx, new):
                out[i] = r
        return out  # type: ignore[return-value]

    def fhir_json(self, data: bytes, counts: Counter, linker=None, source: str = "") -> bytes:
        from transforms.deid.linking import Linker

        linker = linker or Linker()
        doc = orjson.loads(data)
        if doc.get("resourceType") == "Bundle":
            entries = doc.get("entry") or []
            res = [e.get("resource") for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
            new = iter(self._resources(res, counts, linker, source))
            out_entries = []
            for e in entries:
                if not isinstance(e, dict) or not isinstance(e.get("resource"), dict):
                    continue
                resource = next(new)
                rid, rtype = resource.get("id"), resource.get("resourceType")
                entry = {"fullUrl": f"urn:uuid:{rid}" if rid and e.get("fullUrl") else None, "resource": resource}
                if isinstance(e.get("request"), dict):
                    entry["request"] = {"method": e["request"].get("method"), "url": rtype}
                if isinstance(e.get("search"), dict):
                    entry["search"] = {k: v for k, v in e["search"].items() if k in ("mode", "score")}
                out_entries.append({k: v for k, v in entry.items() if v is not None})
            # the Bundle's own identifier, timestamp, links, signature and meta (other than profiles) go
            doc = {"resourceType": "Bundle", **({"id": hmac_hex(self.secret, "bundle", str(doc["id"]), 32)}
                                                 if doc.get("id") else {}),
                   **({"meta": {"profile": doc["meta"]["profile"]}} if isinstance(doc.get("meta"), dict)
                      and doc["meta"].get("profile") else {}),
                   **{k: doc[k] for k in ("type", "total") if k in doc}, "entry": out_entries}
        else:
            doc = self._resources([doc], counts, linker, source)[0]
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    def fhir_ndjson(self, data: bytes, counts: Counter, linker=None, source: str = "") -> bytes:
        from transforms.deid.linking import Linker

        parsed = []
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                counts["rejected:invalid_json_line"] += 1
                continue
            if isinstance(obj, dict):
                parsed.append(obj)
            else:
                counts["rejected:invalid_json_line"] += 1
        new = self._resources(parsed, counts, linker or Linker(), source)
        return b"\n".join(orjson.dumps(r) for r in new) + b"\n"

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

    def jsonl(self, data: bytes, counts: Counter, linker=None, source: str = "") -> bytes:
        from transforms.deid.linking import Linker

        linker = linker or Linker()
        out = []
        for n, line in enumerate(data.decode("utf-8-sig").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                counts["rejected:invalid_json_line"] += 1
                continue
            if not isinstance(obj, dict):
                counts["rejected:invalid_json_line"] += 1
                continue
            out.append(orjson.dumps(self._note_fields(obj, counts, linker, source, f"line {n}")))
        return b"\n".join(out) + b"\n"

    def csv_file(self, data: bytes, counts: Counter, linker=None, source: str = "", text_column: str = "text") -> bytes:
        import csv

        from transforms.deid.linking import Linker
        from transforms.io.text_parse import decode_text

        linker = linker or Linker()
        text, _ = decode_text(data)
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or text_column not in reader.fieldnames:
            return self.text_file(data, source, counts)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for n, row in enumerate(reader, start=2):
            row = {k: v for k, v in row.items() if k is not None}
            writer.writerow(self._note_fields(row, counts, linker, source, f"line {n}", text_column))
        return buf.getvalue().encode("utf-8")

    def text_file(self, data: bytes, source: str, counts: Counter) -> bytes:
        from transforms.io.text_parse import decode_text

        text, _ = decode_text(data)
        return self._deid(text, self._doc_shift(source, "file"), None, counts).encode("utf-8")

    # ------------------------------------------------------------------------------ DICOM
    def dicom(self, data: bytes, counts: Counter, linker=None) -> tuple[bytes | None, str | None]:
        from transforms.deid.burned_in import burned_in_risk
        from transforms.deid.dicom_profile import DicomPolicy, deidentify_dataset
        from transforms.deid.linking import Linker
        from transforms.io.dicom_read import read_dataset

        linker = linker or Linker()
        policy = DicomPolicy.from_dict(self.policy.get("dicom") or {})
        ds = read_dataset(data, headers_only=False)
        reason = burned_in_risk(ds, policy)
        if reason:
            counts[f"dicom:quarantined:{reason}"] += 1
            return None, reason
        pid = str(ds.get("PatientID", "") or "").strip()
        study = str(ds.get("StudyInstanceUID", "") or "").strip()
        person = linker.person(pid or "study:" + study)  # as build links it (no PatientID: the study's person)
        shift = self._shift(person)
        known = linker.known(person, [ds])
        memo: dict = {}

        def text_deid(t):
            if t not in memo:
                memo[t] = self._deid(t, shift, known, counts, "en")
            return memo[t]

        result = deidentify_dataset(ds, patient_pseudonym=patient_key(self.secret, person), date_shift_days=shift,
                                    uid_map=lambda u: keyed_uid(self.secret, u), text_deid=text_deid, policy=policy)
        counts.update({f"dicom:action:{k}": v for k, v in result.actions.items()})
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
