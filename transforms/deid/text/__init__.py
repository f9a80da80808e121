"""Text de-identification for English and Chinese clinical text (Presidio analyzer + anonymizer).

* Normalisation (``normalize.py``): recognizers read NFKC text with straight quotes and decoded
  HTML entities; spans are mapped back and replaced in the original.
* Detection, without help from the structured record: English names, places and hospitals from
  context and census/Philter word lists (``en_context.py``), dates in every written form with
  ratios told apart (``en_dates.py``), Chinese names, IDs, phones, addresses, hospitals and dates,
  record numbers, phones, e-mail, URLs, IPs and ages over 89 (``recognizers.py``), Presidio's
  predefined pattern recognizers, and optionally spaCy NER (policy ``text.ner``).
* Known PHI from the patient's record (``known.py``) is an extra layer, never the only one.
* Over-redaction guard: clinical vocabulary (the terminology stage's words, clinical
  abbreviations, the record's own coded terms) is never replaced on weak evidence.
* Replacement: Presidio ``AnonymizerEngine`` with keyed, consistent surrogates (``surrogates.py``)
  that follow the patient's sex and the text's language; dates shifted by the patient's offset in
  their own format (``dates.py``), or by a keyed per-document offset for notes with no patient;
  ages over 89 become ``90+``. ``mode: tags`` writes ``<ENTITY>`` tags instead.

Engines load lazily, once per process: a ``TextDeidentifier`` pickles small and is built in a
DoFn's ``setup``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections import Counter
from pathlib import Path

from transforms.deid.text.dates import shift_date_text
from transforms.deid.text.engine import LOCK, analyzer_engine, anonymizer_engine
from transforms.deid.text.known import KnownPHI, known_phi_from_patient_resource
from transforms.deid.text.normalize import normalize
from transforms.deid.text.recognizers import EnglishContextRecognizer, build_recognizers
from transforms.deid.text.surrogates import Surrogates

DATA = Path(__file__).resolve().parent / "data"
US_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho "
             "Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota "
             "Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah "
             "Vermont Virginia Washington Wisconsin Wyoming").split() + [
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Rhode Island",
    "South Carolina", "South Dakota", "West Virginia", "United States", "US", "USA", "U.S."]

#: Presidio's predefined recognizers we keep. Its PHONE_NUMBER (the phonenumbers library) is replaced by
#: our phone patterns: it was a third of the analysis time on long notes and found nothing more on
#: the benchmark notes (benchmarks/bench_text_deid.py).
PRESIDIO_ENTITIES = ["EMAIL_ADDRESS", "US_SSN", "US_PASSPORT", "US_DRIVER_LICENSE", "CREDIT_CARD",
                     "IBAN_CODE", "IP_ADDRESS", "URL", "MEDICAL_LICENSE", "US_ITIN"]
NER_ENTITIES = ["PERSON", "LOCATION", "DATE_TIME"]
NAME = {"PERSON", "CN_NAME", "KNOWN_NAME", "NAME", "NAME_F", "NAME_M"}
ADDRESS = {"CN_ADDRESS", "US_STREET", "KNOWN_ADDRESS"}
CITY = {"LOCATION", "KNOWN_CITY", "PLACE"}
HOSPITAL = {"CN_HOSPITAL", "HOSPITAL"}
DATES = {"EN_DATE", "CN_DATE", "DATE_TIME", "KNOWN_DATE"}
PHONES = {"PHONE_NUMBER", "CN_PHONE", "US_PHONE", "KNOWN_PHONE"}
EMAILS = {"EMAIL_ADDRESS", "EMAIL_ANY"}
#: evidence that clinical words override: lexical finds and statistical NER, not cue rules or known PHI
GUARDED = {"PERSON", "LOCATION", "NAME", "PLACE", "FACILITY"}
#: the count key of an entity type (hints such as the sex of a name are not counted apart)
COUNT_AS = {"NAME_F": "NAME", "NAME_M": "NAME", "NAME_L": "NAME", "NAME_F_L": "NAME", "NAME_M_L": "NAME",
            "CN_NAME_F": "CN_NAME", "CN_NAME_M": "CN_NAME"}
NAME |= {"CN_NAME_F", "CN_NAME_M", "NAME_L", "NAME_F_L", "NAME_M_L"}
_ZH_FEMALE_CUES = ("其母", "母亲", "其妻", "妻子", "女儿", "其女", "其姐", "其妹", "女士", "产妇", "孕妇")
_ZH_MALE_CUES = ("其父", "父亲", "其夫", "丈夫", "儿子", "其子", "其兄", "其弟", "先生")


def _allow_list() -> list[str]:
    words = [l.strip() for l in (DATA / "allow_list.txt").read_text(encoding="utf-8").splitlines()
             if l.strip() and not l.startswith("#")]
    return words + US_STATES


#: Texts per spaCy batch: large enough for nlp.pipe to pay, small enough to keep a patient's Docs
#: out of memory (only the de-identified strings are kept between batches).
BATCH_SIZE = 32

OUR_ENTITIES = sorted({e for r in build_recognizers("en") for e in r.supported_entities})


def _resolve_overlaps(results):
    """Greedy: earliest start, then longest span, then highest score wins; no overlaps remain."""
    chosen, end = [], -1
    for r in sorted(results, key=lambda r: (r.start, -(r.end - r.start), -r.score)):
        if r.start >= end:
            chosen.append(r)
            end = r.end
    return chosen


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


class TextDeidentifier:
    def __init__(self, policy: dict | None, secret: bytes):
        policy = policy or {}
        self.mode = policy.get("mode", "surrogate")
        self.threshold = float(policy.get("score_threshold", 0.5))
        self.ner = bool(policy.get("ner", False))
        self.max_days = int(policy.get("unlinked_max_days", 365))
        self.secret = secret
        self.surrogates = Surrogates(secret)
        self.allow = _allow_list() + list(policy.get("allow_list") or [])
        self._allow_set = {a.casefold() for a in self.allow}

    def __getstate__(self):
        return {"policy": {"mode": self.mode, "score_threshold": self.threshold, "ner": self.ner,
                           "unlinked_max_days": self.max_days}, "secret": self.secret, "allow": self.allow}

    def __setstate__(self, state):
        self.__init__(state["policy"], state["secret"])
        self.allow = state["allow"]
        self._allow_set = {a.casefold() for a in self.allow}

    # -----------------------------------------------------------------------------------------
    def analyze(self, text: str, *, language: str, known: KnownPHI | None = None, artifacts: dict | None = None):
        """Entity spans to replace, in ``text``'s own offsets. ``artifacts`` holds spaCy's output
        for (normalised text, language) pairs computed in a batch by :meth:`nlp_batch`."""
        norm = normalize(text)
        engine = analyzer_engine(self.ner)
        results = []
        for lang in _languages(language):
            entities = OUR_ENTITIES + (PRESIDIO_ENTITIES + (NER_ENTITIES if self.ner else []) if lang == "en" else [])
            adhoc = known.recognizers(lang) if known else []
            entities += sorted({e for r in adhoc for e in r.supported_entities})
            with LOCK:
                results += engine.analyze(text=norm.text, language=lang, entities=entities,
                                          ad_hoc_recognizers=adhoc or None, score_threshold=self.threshold,
                                          nlp_artifacts=(artifacts or {}).get((norm.text, lang)))
        guard = _guard_words(known)
        kept = []
        for r in results:
            span = norm.text[r.start:r.end]
            if span.strip().casefold() in self._allow_set or span.strip(" .,'").casefold() in self._allow_set:
                continue
            if r.entity_type == "DATE_TIME" and shift_date_text(span, 1) is None:
                continue  # "18 year-old", "2019", "today": not a full date, not an identifier
            if r.entity_type == "URL" and ("@" in span or not re.match(r"(?i)(https?://|www\.)", span)):
                continue  # "reported.ph" is a sentence end, not a web address
            if r.entity_type == "PERSON" and ("\n" in span or not any(w[:1].isupper() for w in span.split())):
                continue  # NER over headings ("Social History\nPatient") and lower-case drug names
            if r.entity_type in GUARDED and r.score < 0.85 and _clinical_span(span, guard):
                continue  # over-redaction guard: "acetaminophen", "Hands", "Lifestyle"
            if r.entity_type in ("US_DRIVER_LICENSE", "US_PASSPORT", "US_ITIN") and not any(c.isdigit() for c in span):
                continue  # Presidio's licence patterns match plain words ("AMIODARONE")
            if r.entity_type == "CN_NAME":
                r.entity_type += _zh_sex_suffix(norm.text, r.start, r.end)
            start, end = norm.original_span(r.start, r.end)
            r.start, r.end = start, end
            kept.append(r)
        return _resolve_overlaps(kept)

    def _replacement(self, entity: str, value: str, shift: int, known: KnownPHI | None, language: str,
                     avoid: frozenset = frozenset()) -> str:
        if self.mode == "tags":
            return f"<{COUNT_AS.get(entity, entity)}>"
        s = self.surrogates
        value = unicodedata.normalize("NFKC", value)  # full-width digits and letters: surrogates in half-width
        zh = language == "zh" or _is_cjk(value)
        if entity in NAME:
            parts = entity.split("_")
            sex = "F" if "F" in parts else "M" if "M" in parts else (known.sex if known and entity == "KNOWN_NAME"
                                                                       else None)
            return s.person(value, sex=sex, zh=zh, avoid=avoid or _known_name_words(known), family="L" in parts)
        if entity in ADDRESS:
            return s.address(value)
        if entity in CITY:
            return s.place(value) if len(value.split()) == 1 else s.city(value)
        if entity in HOSPITAL:
            return s.hospital(value, zh=zh)
        if entity == "FACILITY":  # the name part of a facility ("VAMC" Hospital), or a whole name ("Mercy Hospital")
            whole = re.search(r"(?i)\b(hospital|clinic|cent(?:er|re)|infirmary|hospice)$", value)
            return s.hospital(value, zh=False) if whole else s.place(value)
        if entity in DATES:
            if known and known.over_89 and known.birth_year and known.birth_year in value:
                return "[日期]" if zh else "[DATE]"  # a shifted birth date of a 90+ patient still gives the age
            shifted = shift_date_text(value, shift)
            return shifted if shifted is not None and shifted != value else ("[日期]" if zh else "[DATE]")
        if entity == "BIRTH_YEAR_OVER_89":
            return "[年份]" if zh else "[YEAR]"
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
        if entity in ("IP_ADDRESS", "IP_ANY"):
            return "192.0.2." + str(s._n("ip", value) % 254 + 1)  # TEST-NET-1 (RFC 5737)
        return s.same_shape(entity, value)

    @staticmethod
    def nlp_batch(pairs, ner: bool = False) -> dict:
        """spaCy over many (text, language) pairs at once (``nlp.pipe`` through Presidio's
        ``process_batch``): {(normalised text, spaCy language): NlpArtifacts}."""
        by_lang: dict[str, list[str]] = {}
        for text, language in pairs:
            if text and text.strip():
                for lang in _languages(language):
                    by_lang.setdefault(lang, []).append(normalize(text).text)
        engine = analyzer_engine(ner)
        out = {}
        for lang, texts in sorted(by_lang.items()):
            texts = list(dict.fromkeys(texts))
            with LOCK:
                for text, art in engine.nlp_engine.process_batch(texts, lang, batch_size=len(texts)):
                    out[(text, lang)] = art
        return out

    def document_shift(self, text: str) -> int:
        """A keyed offset for a note with no patient: the same note always moves by the same days."""
        digest = hmac.new(self.secret, b"document-date-shift\x1f" + text.encode("utf-8"), hashlib.sha256).digest()
        offset = int.from_bytes(digest[:8], "big") % (2 * self.max_days + 1) - self.max_days
        return offset or self.max_days

    def deidentify(self, text: str, *, language: str, date_shift_days: int | None, known: KnownPHI | None = None,
                   artifacts: dict | None = None) -> tuple[str, dict[str, int]]:
        """De-identified ``text`` and counts per entity type. ``date_shift_days=None``: the note has
        no patient, dates move by a keyed per-document offset; ``0``: dates are not PHI here (literature)."""
        if not text or not text.strip():
            return text, {}
        from presidio_anonymizer.entities import OperatorConfig

        results = self.analyze(text, language=language, known=known, artifacts=artifacts)
        shift = self.document_shift(text) if date_shift_days is None else date_shift_days
        if shift == 0:
            results = [r for r in results if r.entity_type not in DATES]
        if not results:
            return text, {}
        # a surrogate name never repeats a name of this text ("Amy White and Edward Martin" must not
        # become "Edward Lee and ..."): every name word found here is avoided, the patient's too
        avoid = _known_name_words(known) | frozenset(
            w.casefold() for r in results if r.entity_type in NAME for w in re.findall(r"[^\W\d_]+", text[r.start:r.end]))
        operators = {}
        for entity in {r.entity_type for r in results}:
            operators[entity] = OperatorConfig(
                "custom", {"lambda": (lambda v, e=entity: self._replacement(e, v, shift, known, language, avoid))})
        out = anonymizer_engine().anonymize(text=text, analyzer_results=results, operators=operators)
        counts = Counter(COUNT_AS.get(r.entity_type, r.entity_type) for r in results)
        return out.text, dict(sorted(counts.items()))

    def deidentify_many(self, items, batch_size: int = BATCH_SIZE):
        """:meth:`deidentify` over (text, language, date_shift_days, known) items, spaCy batched."""
        out = []
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            artifacts = self.nlp_batch([(t, lang) for t, lang, _, _ in chunk], self.ner)
            out += [self.deidentify(t, language=lang, date_shift_days=d, known=k, artifacts=artifacts)
                    for t, lang, d, k in chunk]
        return out


def _known_name_words(known: KnownPHI | None) -> frozenset:
    """The patient's own name parts: a surrogate must never be one of them."""
    if not known or not known.names:
        return frozenset()
    cached = getattr(known, "_name_words", None)
    if cached is None:
        cached = frozenset(w.casefold() for n in known.names for w in re.findall(r"[^\W\d_]+", n))
        known._name_words = cached
    return cached


def _zh_sex_suffix(text: str, start: int, end: int) -> str:
    """"_F"/"_M" when the note says the sex of the person named: "王芳，女", "其母李秀英", "张先生"."""
    after = text[end:end + 4].lstrip("，, （(")
    before = text[max(0, start - 3):start]
    if after.startswith("女") or any(before.endswith(c) for c in _ZH_FEMALE_CUES) or after.startswith("女士"):
        return "_F"
    if after.startswith("男") or any(before.endswith(c) for c in _ZH_MALE_CUES) or after.startswith("先生"):
        return "_M"
    return ""


def _guard_words(known: KnownPHI | None) -> frozenset:
    from transforms.deid.text.lexicon import lexicon

    lex = lexicon()
    if not known or not known.clinical_terms:
        return lex.clinical
    cached = getattr(known, "_guard", None)
    if cached is None:
        cached = lex.clinical | {w for w in known.clinical_terms if not lex.is_name(w)}
        known._guard = cached
    return cached


def _clinical_span(span: str, guard: frozenset) -> bool:
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", span)
    return bool(words) and all(w.lower().removesuffix("'s") in guard for w in words)


def _languages(language: str) -> list[str]:
    """The spaCy pipelines a text goes through: both for mixed Chinese-English text."""
    return ["en", "zh"] if language == "mixed" else (["zh"] if language == "zh" else ["en"])


__all__ = ["TextDeidentifier", "KnownPHI", "known_phi_from_patient_resource", "analyzer_engine",
           "EnglishContextRecognizer"]
