"""De-identify stage: one raw patient record in, one de-identified record (and its documents) out.

Everything after this stage sees only pseudonyms and shifted dates. Per patient:

* ``patient_key`` and the date offset come from the run secret (``transforms.deid.keys``);
* FHIR resources go through the structural de-identifier, whose free-text fields go through
  the text de-identifier with the patient's own known PHI;
* notes are extracted from the *de-identified* resources (so they are never de-identified twice);
* text documents of the patient go through the same text de-identifier;
* DICOM instances go through the PS3.15 table, at-risk images are quarantined, and one image per
  series is rendered to PNG.

A bad DICOM instance or text document is rejected on its own; the rest of the patient goes on.
Heavy engines (Presidio + spaCy) load once per worker, on the first text to de-identify.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import apache_beam as beam
from apache_beam import pvalue

from transforms.base import EVENTS, FILTERED, IN, OUT, REJECT, REJECTED, event, rejected_row
from transforms.deid.keys import date_shift_days, hmac_hex, keyed_uid, patient_key, resource_pseudonym

STAGE = "deid"


def doc_id_for(secret: bytes, *parts: str) -> str:
    return "d-" + hmac_hex(secret, "document", "\x1f".join(parts), 24)


def _uid_from_identifier(value: str) -> str:
    return value[len("urn:oid:"):] if value.startswith("urn:oid:") else value


def study_uids_of(resource: dict) -> list[str]:
    uids = []
    for ident in resource.get("identifier", []) or []:
        value = ident.get("value") or ""
        if ident.get("system") in ("urn:dicom:uid", "urn:ietf:rfc:3986") and value:
            uids.append(_uid_from_identifier(value))
    if resource.get("uid"):  # STU3-style
        uids.append(resource["uid"])
    return uids


def _encounter_of(resource: dict) -> str | None:
    rt = resource.get("resourceType")
    if rt == "DocumentReference":
        ctx = resource.get("context") or {}
        enc = ctx.get("encounter")
        if isinstance(enc, list) and enc:
            return (enc[0] or {}).get("reference")
        if isinstance(enc, dict):
            return enc.get("reference")
        return None
    enc = resource.get("encounter")
    return enc.get("reference") if isinstance(enc, dict) else None


def _lang(text: str) -> str:
    # FHIR strings (displays, concept texts) repeat from patient to patient: short ones are remembered
    return _short_lang(text) if len(text) <= 512 else _detect(text)


def _detect(text: str) -> str:
    from transforms.io.text_parse import detect_language

    return detect_language(text)[0]


_short_lang = lru_cache(maxsize=65536)(_detect)


class _LazyText:
    """The text de-identifier (Presidio + spaCy), loaded on the first text: a worker that meets no free
    text (records-only inputs, a build without standalone documents) never loads the engines."""

    def __init__(self, policy: dict, secret: bytes):
        self.policy, self.secret, self._engine = policy, secret, None

    def _get(self):
        if self._engine is None:
            from transforms.deid.text import TextDeidentifier

            self._engine = TextDeidentifier(self.policy, self.secret)
        return self._engine

    def deidentify(self, *args, **kwargs):
        return self._get().deidentify(*args, **kwargs)

    def deidentify_many(self, items):
        items = list(items)
        return self._get().deidentify_many(items) if items else []


class _TextDeidFn(beam.DoFn):
    """Holds the run secret and policy; loads the text de-identifier once per worker."""

    def __init__(self, secret: bytes, policy: dict, render: dict | None = None, fhir_version: str = "R4",
                 display_tables: tuple[str, ...] = ()):
        super().__init__()
        self.secret = secret
        self.policy = policy
        self.fhir_version = fhir_version
        self.display_tables = tuple(display_tables)
        self.text = None
        render = render or {}
        self.render_mode = render.get("render", "series")
        self.max_side = int(render.get("max_side", 512))

    def setup(self):
        from transforms.base import quiet_libraries

        quiet_libraries()
        self.text = _LazyText(self.policy.get("text") or {}, self.secret)

    def _display(self):
        """A coding's display from the terminology tables (the user's, then the shipped ones)."""
        from transforms.terminology.displays import preferred_display

        tables = self.display_tables
        return lambda system, code, language: preferred_display(system, code, language, tables=tables)


class DeidentifyRecord(_TextDeidFn):
    """Raw patient record -> de-identified record (main) + documents + rejects + events.

    With ``cache_dir`` (incremental builds), a patient whose raw units and settings are unchanged
    replays its stored outputs (``transforms.deid.cache``) instead of being de-identified again.
    """

    def __init__(self, secret: bytes, policy: dict, render: dict | None = None, cache_dir: str | None = None,
                 cache_settings: str = "", fhir_version: str = "R4", display_tables: tuple[str, ...] = ()):
        super().__init__(secret, policy, render, fhir_version, display_tables)
        self.cache_dir, self.cache_settings = cache_dir, cache_settings
        self.cache = None

    def setup(self):
        super().setup()
        if self.cache_dir:
            from transforms.deid.cache import RecordCache

            self.cache = RecordCache(self.cache_dir)

    # -- helpers ---------------------------------------------------------------------------
    def _text_deid(self, shift: int, known):
        from transforms.deid.clean_texts import CleanTexts, known_tokens

        memo: dict = {}  # a note is often stored twice (DocumentReference and DiagnosticReport.presentedForm)
        if getattr(self, "clean", None) is None:
            self.clean = CleanTexts()  # texts found clean for earlier patients of this worker
        clean, tokens = self.clean, known_tokens(known)

        def deid(text: str, language: str | None = None):
            key = (text, language)
            if key not in memo:
                lang = language or _lang(text)
                if clean.unchanged((text, lang), tokens):
                    memo[key] = (text, {})
                else:
                    memo[key] = self.text.deidentify(text, language=lang, date_shift_days=shift, known=known)
                    clean.remember((text, lang), memo[key])
            return memo[key]

        def prefill(keys) -> None:
            """De-identify the (text, language) pairs a later pass will ask for, spaCy batched."""
            todo = []
            for k in dict.fromkeys(keys):
                if k in memo or not k[0] or not k[0].strip():
                    continue
                lang = k[1] or _lang(k[0])
                if clean.unchanged((k[0], lang), tokens):
                    memo[k] = (k[0], {})
                else:
                    todo.append((k, lang))
            results = self.text.deidentify_many([(k[0], lang, shift, known) for k, lang in todo])
            for (k, lang), result in zip(todo, results):
                memo[k] = result
                clean.remember((k[0], lang), result)

        def probe():
            """``(lookup, misses)``: ``lookup`` answers a text from what is already known (this patient's
            results, texts found clean before) and records the others in ``misses``, answering them unchanged.
            A walk with ``lookup`` that misses nothing is the walk itself; otherwise its output is dropped."""
            misses: list = []

            def lookup(text: str, language: str | None = None):
                key = (text, language)
                if key not in memo:
                    lang = language or _lang(text)
                    if not clean.unchanged((text, lang), tokens):
                        misses.append(key)
                        return text, {}
                    memo[key] = (text, {})
                return memo[key]

            return lookup, misses

        deid.prefill = prefill
        deid.probe = probe
        return deid

    def process(self, record: dict):
        """Never let one malformed record crash the run: reject its units instead, without details."""
        key = None
        if self.cache is not None:
            from transforms.deid.cache import record_key

            key = record_key(record, self.cache_settings)
            stored = self.cache.get(key)
            if stored is not None:
                yield event("cache", STAGE, "hit", "", "")
                yield from stored
                return
        try:
            outputs = list(self._process(record))
            if key is not None:
                self.cache.put(key, outputs)
                yield event("cache", STAGE, "miss", "", "")
        except Exception as exc:  # noqa: BLE001
            kind = f"deid_failed:{type(exc).__name__}"
            for u in record["resources"] + record["texts"] + record["dicom"]:
                yield event("units", STAGE, IN, "", u["kind"])
                yield event("units", STAGE, REJECT, kind, u["kind"])
                yield pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), u["kind"], STAGE, kind,
                    "de-identification of this patient failed; details withheld (may contain PHI)"))
            return
        yield from outputs
        from transforms.heap import freeze_loaded_heap

        freeze_loaded_heap("deid")  # the FHIR models, text engines and lexicons are loaded by now

    def _process(self, record: dict):
        from transforms.deid.fhir_deid import deidentify_patient_resources, over_age_cap
        from transforms.deid.isolate import first_that_works, patient_shape_for_known_phi
        from transforms.deid.known import known_phi_for_record
        from transforms.io.fhir_notes import extract_notes

        secret = self.secret
        pid = record["patient_id"]
        max_days = int((self.policy.get("date_shift") or {}).get("max_days", 365))
        pk = patient_key(secret, pid)
        shift = date_shift_days(secret, pid, max_days)
        entity_counts: Counter = Counter()
        documents: list[dict] = []

        # ---- FHIR -------------------------------------------------------------------------
        raw = [u["resource"] for u in record["resources"]]
        patient = next((r for r in raw if r.get("resourceType") == "Patient"), None)
        blobs, fhir_policy = [u.get("data") for u in record["dicom"]], self.policy.get("fhir") or {}
        # the age at the latest event walks every resource: computed once for the known PHI and the walk
        over = first_that_works(lambda: bool(patient) and over_age_cap(raw, patient, fhir_policy))
        known = first_that_works(  # a malformed Patient: read its PHI from a repaired copy, or do without it
            lambda: known_phi_for_record(raw, patient, blobs, fhir_policy, over=over),
            lambda: known_phi_for_record(raw, patient_shape_for_known_phi(patient), blobs, fhir_policy),
            lambda: known_phi_for_record(raw, None, blobs, fhir_policy))
        text_deid = self._text_deid(shift, known)
        study_encounters: dict[str, str] = {}
        prepared = raw  # ImagingStudy UIDs are keyed by the walk (the same keyed UIDs as the DICOM path)
        for r in raw:
            if r.get("resourceType") == "ImagingStudy":
                enc = _encounter_of(r)
                for uid in study_uids_of(r):
                    if enc:
                        study_encounters[keyed_uid(secret, uid)] = enc
        resources: list[dict] = []
        if prepared:
            n = len(prepared)
            yield event("units", STAGE, IN, "", "fhir", n)
            walk = dict(secret=secret, patient_id=pid, date_shift_days=shift, policy=self.policy.get("fhir") or {},
                        fhir_version=self.fhir_version, display=self._display())
            one_patient = sum(r.get("resourceType") == "Patient" for r in prepared) == 1

            def walk_with(rs: list[dict], text_fn):
                return deidentify_patient_resources(rs, text_deid=text_fn, **walk,
                                                    over_age=over if rs is prepared and one_patient else None)

            # first the walk with the texts already known (clean for earlier patients): when it meets no
            # other text it is the result (typical of coded resources); else spaCy runs over all of the
            # patient's other texts in batches (nlp.pipe) and the walk runs again
            lookup, misses = text_deid.probe()
            try:
                done = walk_with(prepared, lookup)
            except Exception:  # noqa: BLE001 - the walk below de-identifies text by text and reports failures
                done, misses = None, []
            from transforms.deid.isolate import deidentify_isolating

            try:  # a resource that fails on its own is rejected alone (bad), the rest goes on
                if done is not None and not misses:
                    resources, counts, kept, bad = done[0], done[1], list(range(n)), []
                else:
                    try:
                        text_deid.prefill(misses)
                    except Exception:  # noqa: BLE001 - the walk de-identifies text by text and reports failures
                        pass
                    resources, counts, kept, bad = deidentify_isolating(
                        prepared, lambda rs: walk_with(rs, text_deid))
            except Exception as exc:  # noqa: BLE001 - the patient's FHIR is rejected, the run goes on
                for u in record["resources"]:
                    yield pvalue.TaggedOutput(REJECTED, rejected_row(
                        u.get("source", ""), u.get("position", ""), "fhir", STAGE, f"deid_failed:{type(exc).__name__}",
                        "structural de-identification failed for this patient; details withheld"))
                yield event("units", STAGE, REJECT, f"deid_failed:{type(exc).__name__}", "fhir", n)
                resources = []
            else:
                for i, exc_name in bad:
                    u = record["resources"][i]
                    yield pvalue.TaggedOutput(REJECTED, rejected_row(
                        u.get("source", ""), u.get("position", ""), "fhir", STAGE, f"deid_failed:{exc_name}",
                        "structural de-identification failed for this resource; details withheld"))
                    yield event("units", STAGE, REJECT, f"deid_failed:{exc_name}", "fhir")
                entity_counts.update({f"fhir:{k}": v for k, v in counts.items()})
                yield event("units", STAGE, OUT, "", "fhir", len(kept))
                for i in kept:
                    yield _lineage_input(record["resources"][i], pk, shift)
        # map raw encounter references to their pseudonymous form, for report linking
        enc_pseudo = {}
        for raw_enc in set(study_encounters.values()):
            ref_id = raw_enc.rsplit("/", 1)[-1].replace("urn:uuid:", "")
            enc_pseudo[raw_enc] = resource_pseudonym(secret, "Encounter", ref_id)
        unit_of = {(u["resource"].get("resourceType"), resource_pseudonym(
            secret, u["resource"].get("resourceType") or "Resource", str(u["resource"].get("id", "")))): input_ref(u)
            for u in record["resources"] if u["resource"].get("id") is not None}
        notes_by_encounter: dict[str, list[dict]] = defaultdict(list)
        for res in resources:
            for i, note in enumerate(extract_notes(res)):
                text = (note.get("text") or "").strip()
                if not text:
                    continue
                doc = {
                    "doc_id": doc_id_for(secret, pk, res.get("resourceType", ""), str(res.get("id", "")), note["field"]),
                    "patient_key": pk,
                    "text": text,
                    "language": _lang(text),
                    "doc_type": note.get("doc_type") or "clinical_note",
                    "source_kind": "fhir",
                    "modality": "text",
                    "date": (note.get("date") or None),
                    "resource_type": res.get("resourceType"),
                    "encounter": _encounter_of(res),
                    "inputs": [ref for ref in [unit_of.get((res.get("resourceType"), str(res.get("id", ""))))] if ref],
                }
                documents.append(doc)
                enc = _encounter_of(res)
                if enc:
                    notes_by_encounter[enc.rsplit("/", 1)[-1].replace("urn:uuid:", "")].append(doc)

        # ---- text documents of this patient -------------------------------------------------
        for u in record["texts"]:
            yield event("units", STAGE, IN, "", "text")
            try:
                lang = u.get("language") or _lang(u["text"])
                text, counts = self.text.deidentify(u["text"], language=lang, date_shift_days=shift, known=known)
            except Exception as exc:  # noqa: BLE001
                yield event("units", STAGE, REJECT, f"deid_failed:{type(exc).__name__}", "text")
                yield pvalue.TaggedOutput(REJECTED, rejected_row(u.get("source", ""), u.get("position", ""), "text",
                                                                 STAGE, f"deid_failed:{type(exc).__name__}",
                                                                 "text de-identification failed; details withheld"))
                continue
            entity_counts.update({f"text:{k}": v for k, v in counts.items()})
            yield event("units", STAGE, OUT, "", "text")
            yield _lineage_input(u, pk, shift)
            documents.append({
                "doc_id": doc_id_for(secret, pk, u.get("source", ""), u.get("position", ""), str(u.get("doc_id", ""))),
                "patient_key": pk, "text": text, "language": lang,
                "doc_type": u.get("doc_type") or "clinical_note", "source_kind": "text", "modality": "text",
                "date": _shift_iso_date(u.get("date"), shift),
                "inputs": [input_ref(u)],
            })

        # ---- DICOM -----------------------------------------------------------------------
        images = []
        if record["dicom"]:
            images, dicom_events = self._dicom(record["dicom"], pk, shift, known, study_encounters, enc_pseudo,
                                               notes_by_encounter)
            for item in dicom_events:
                yield item
            for img in images:
                documents.append({
                    "doc_id": img["image_id"], "patient_key": pk, "text": img["caption"],
                    "language": "en", "doc_type": "image_caption", "source_kind": "dicom", "modality": "image",
                    "date": img.get("study_date"), "image": img["image"], "inputs": img["inputs"],
                })

        for kind, n in sorted(entity_counts.items()):
            yield event("deid_entities", STAGE, "count", kind, kind.split(":", 1)[0], n)
        for doc in documents:
            yield event("documents", STAGE, OUT, "", doc["source_kind"])
        # documents travel inside the record; the terminology stage annotates and emits them
        yield {"patient_key": pk, "resources": resources, "documents": documents, "images": images}

    def _dicom(self, units, pk, shift, known, study_encounters, enc_pseudo, notes_by_encounter):
        """De-identify instances, quarantine at-risk images, render one image per series after reading
        its pixels with OCR (burned-in text redacted or quarantined per ``dicom.pixel_text``)."""
        from transforms.deid.burned_in import burned_in_risk
        from transforms.deid.dicom_profile import DicomPolicy, deidentify_dataset
        from transforms.deid.pixel_text import PixelTextPolicy, header_tokens, known_tokens
        from transforms.io.dicom_read import DicomReadError, read_dataset
        from transforms.io.dicom_render import PixelDecodeError

        secret = self.secret
        policy = DicomPolicy.from_dict(self.policy.get("dicom") or {})
        pixel_policy = PixelTextPolicy.from_dict(policy.pixel_text)
        patient_tokens = known_tokens(known)
        tokens_of: dict[str, set] = {}  # raw SOP UID -> identifying header values, read before de-identification
        out_events = []
        series: dict[str, list] = defaultdict(list)
        text_deid = self._text_deid(shift, known)
        series_study: dict[str, str] = {}
        seen_sop: set[str] = set()
        for u in units:
            out_events.append(event("units", STAGE, IN, "", "dicom"))
            problem = None
            if u["sop_uid"] in seen_sop:
                problem = ("duplicate_sop_instance", "SOP Instance UID seen twice for this patient")
            elif u.get("series_uid") and series_study.setdefault(u["series_uid"], u["study_uid"]) != u["study_uid"]:
                problem = ("inconsistent_uids", "series belongs to two different studies")
            if problem:
                out_events.append(event("units", STAGE, REJECT, problem[0], "dicom"))
                out_events.append(pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), "dicom", STAGE, *problem)))
                continue
            seen_sop.add(u["sop_uid"])
            try:
                ds = read_dataset(u["data"], headers_only=False)
                tokens_of[u["sop_uid"]] = header_tokens(ds) | patient_tokens
                reason = burned_in_risk(ds, policy)
                if reason and pixel_policy.at_risk == "redact":  # released only through OCR redaction below
                    out_events.append(event("images", STAGE, "ocr_instead_of_quarantine", reason, "dicom"))
                    reason = None
                result = deidentify_dataset(ds, patient_pseudonym=pk, date_shift_days=shift,
                                            uid_map=lambda uid: keyed_uid(secret, uid),
                                            text_deid=lambda t: text_deid(t, "en")[0], policy=policy)
            except DicomReadError as exc:
                out_events.append(event("units", STAGE, REJECT, exc.kind, "dicom"))
                out_events.append(pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), "dicom", STAGE, exc.kind, exc.message)))
                continue
            except Exception as exc:  # noqa: BLE001
                kind = f"deid_failed:{type(exc).__name__}"
                out_events.append(event("units", STAGE, REJECT, kind, "dicom"))
                out_events.append(pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), "dicom", STAGE, kind,
                    "DICOM de-identification failed; details withheld")))
                continue
            for action, n in sorted(result.actions.items()):
                out_events.append(event("dicom_actions", STAGE, "count", str(action), "dicom", n))
            if reason:
                out_events.append(event("units", STAGE, FILTERED, "quarantined_burned_in", "dicom"))
                out_events.append(event("images", STAGE, "quarantined", reason, "dicom"))
                continue
            out_events.append(event("units", STAGE, OUT, "", "dicom"))
            out_events.append(_lineage_input(u, pk, shift))
            dds = result.dataset
            series[str(getattr(dds, "SeriesInstanceUID", ""))].append((u, dds))
        images = []
        to_render = []
        for series_uid in sorted(series):
            members = sorted(series[series_uid], key=lambda x: (int(getattr(x[1], "InstanceNumber", 0) or 0),
                                                               str(getattr(x[1], "SOPInstanceUID", ""))))
            chosen = members if self.render_mode == "instance" else [members[len(members) // 2]]
            to_render += [(series_uid, u, ds) for u, ds in chosen]
        for series_uid, u, ds in to_render:
            try:
                png, screening = _screened_png(ds, pixel_policy, tokens_of.get(u["sop_uid"], set()), self.max_side)
            except PixelDecodeError as exc:
                out_events.append(event("images", "render", REJECT, exc.kind, "dicom"))
                out_events.append(pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), "dicom", "render", exc.kind, exc.message)))
                continue
            except Exception as exc:  # noqa: BLE001
                out_events.append(event("images", "render", REJECT, f"render_failed:{type(exc).__name__}", "dicom"))
                out_events.append(pvalue.TaggedOutput(REJECTED, rejected_row(
                    u.get("source", ""), u.get("position", ""), "dicom", "render",
                    f"render_failed:{type(exc).__name__}", "image could not be rendered; details withheld")))
                continue
            if screening.action == "quarantine":
                out_events.append(event("images", STAGE, "quarantined", f"pixel_text:{screening.reason}", "dicom"))
                continue
            if screening.action == "redacted":
                out_events.append(event("images", STAGE, "pixel_text_redacted", pixel_policy.mode, "dicom"))
                out_events.append(event("images", STAGE, "pixel_text_lines", pixel_policy.mode, "dicom",
                                        screening.boxes))
            out_events.append(event("images", "render", OUT, "", "dicom"))
            study_key = str(getattr(ds, "StudyInstanceUID", ""))
            series_key = series_uid
            modality = str(getattr(ds, "Modality", "") or "")
            body_part = str(getattr(ds, "BodyPartExamined", "") or "")
            description = str(getattr(ds, "SeriesDescription", "") or getattr(ds, "StudyDescription", "") or "")
            raw_enc = study_encounters.get(study_key)
            report = None
            if raw_enc:
                notes = notes_by_encounter.get(enc_pseudo.get(raw_enc, ""), [])
                if notes:
                    report = sorted(notes, key=lambda d: d["doc_id"])[0]["text"]
            caption = " ".join(x for x in (modality, body_part.lower(), description) if x).strip() or "medical image"
            study_date = str(getattr(ds, "StudyDate", "") or "")
            instance_key = str(getattr(ds, "SOPInstanceUID", ""))
            images.append({
                "image_id": "i-" + hmac_hex(secret, "image", series_key + (
                    "/" + instance_key if self.render_mode == "instance" else ""), 24),
                "patient_key": pk, "study_key": study_key, "series_key": series_key,
                "modality": modality, "body_part": body_part, "description": description,
                "caption": caption,
                "study_date": f"{study_date[:4]}-{study_date[4:6]}-{study_date[6:8]}" if len(study_date) >= 8 else None,
                "image": {"bytes": png, "path": f"{instance_key if self.render_mode == 'instance' else series_key}.png"},
                "report_text": report,
                "inputs": sorted(input_ref(m) for m, _ in series.get(series_uid, [])),
            })
        return images, out_events


def _screened_png(ds, pixel_policy, tokens: set, max_side: int):
    """(PNG bytes or None, Screening): the displayed pixels read with OCR, redacted before rendering."""
    from transforms.deid.pixel_text import screen_pixels
    from transforms.io.dicom_render import pixels_for_display, png_from_array

    screening = screen_pixels(pixels_for_display(ds), pixel_policy, tokens)
    if screening.action == "quarantine":
        return None, screening
    return png_from_array(screening.array, max_side), screening


def input_ref(u: dict) -> str:
    """Where an input unit came from: ``<kind>:<relative path>#<position>`` (never its content)."""
    return f"{u.get('source', '')}#{u.get('position', '')}"


def _lineage_input(u: dict, pk: str | None, shift: int | None):
    return pvalue.TaggedOutput("lineage", {"source": u.get("source", ""), "position": u.get("position", ""),
                                           "source_kind": u.get("kind", ""), "patient_key": pk,
                                           "date_shift_days": shift})


def _shift_iso_date(value, shift: int):
    if not value:
        return None
    import datetime as dt

    try:
        d = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return (d + dt.timedelta(days=shift)).isoformat()


class Deidentify(beam.PTransform):
    """(raw records, standalone text units) -> {"records", "documents" (standalone), "rejected", "events",
    "lineage" (one row per input unit that reached a patient record)}."""

    def __init__(self, ctx):
        super().__init__()
        self.secret = ctx.secret
        self.policy = ctx.deid_policy
        self.render = dict(ctx.config.get("dicom") or {})
        self.fhir_version = str((ctx.config.get("fhir") or {}).get("version") or "R4")
        self.display_tables = tuple((ctx.config.get("terminology") or {}).get("display_tables") or [])
        self.cache_dir = getattr(ctx, "cache_dir", None)
        self.cache_settings = ""
        if self.cache_dir:
            from pipelines import __version__
            from transforms.deid.cache import settings_digest
            from transforms.deid.keys import fingerprint

            from transforms.terminology.displays import display_table_versions

            self.cache_settings = settings_digest(secret_fingerprint=fingerprint(self.secret), policy=self.policy,
                                                  render={**self.render, "fhir_version": self.fhir_version,
                                                          "display_tables": display_table_versions(
                                                              self.display_tables)},
                                                  version=__version__)

    def expand(self, pcolls):
        from transforms.deid.standalone import DeidentifyStandalone

        records, standalone = pcolls
        res = records | "DeidPatients" >> beam.ParDo(
            DeidentifyRecord(self.secret, self.policy, self.render, self.cache_dir, self.cache_settings,
                             self.fhir_version, self.display_tables)).with_outputs(
            REJECTED, EVENTS, "lineage", main="records")
        alone = standalone | "DeidStandalone" >> beam.ParDo(
            DeidentifyStandalone(self.secret, self.policy, None, self.fhir_version, self.display_tables)).with_outputs(REJECTED, EVENTS, "lineage",
                                                                         main="documents")
        rejected = (res[REJECTED], alone[REJECTED]) | "DeidRejected" >> beam.Flatten()
        events = (res[EVENTS], alone[EVENTS]) | "DeidEvents" >> beam.Flatten()
        lineage = (res.lineage, alone.lineage) | "DeidLineage" >> beam.Flatten()
        return {"records": res.records, "documents": alone.documents, "rejected": rejected, "events": events,
                "lineage": lineage}
