"""Display normalisation: one preferred display per coded concept and language, so the same concept
reads the same everywhere in the corpus.

The preferred display of a (code system, code) in a language comes from, in this order:

1. the user's display tables named in the config (``terminology.display_tables``; CSV or Parquet
   with the columns ``system, code, language, display``; ``system`` is the FHIR system URI), e.g. a
   hospital's preferred Chinese terms or a licensed SNOMED CT / LOINC description extract;
2. the shipped tables: for ICD-10 codes, the CMS ICD-10-CM description (``simple-icd-10-cm``) in
   English and the Chinese preferred term of the code's category in the synonym dictionary
   (``data/synonyms.yaml``), else in the category table (``data/icd10_zh_categories.csv``);
3. the display this corpus uses most often for the (system, code, language) in this run (ties: the
   alphabetically first), counted over every patient record by :class:`NormalizeDisplays`, so that
   sites which spell a concept differently still read the same;
4. the coding's own display.

:class:`NormalizeDisplays` rewrites the ``display`` of every coding in the de-identified records
before the task builders render text from them; note text is never rewritten.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import apache_beam as beam

from transforms.terminology.maps import TableError, read_user_table

COLUMNS = ("system", "code", "language", "display")
ICD10_SYSTEMS = ("ICD-10-CM", "ICD-10", "ICD-10-CN")


_CJK = re.compile("[\u4e00-\u9fff]")  # transforms.terminology.concepts._is_cjk


def display_language(display: str) -> str:
    return "zh" if _CJK.search(display) else "en"


def codings(node) -> Iterator[dict]:
    """Every coding with a system, a code and a display, anywhere in a FHIR resource."""
    if isinstance(node, dict):
        if isinstance(node.get("system"), str) and isinstance(node.get("code"), str) and \
                isinstance(node.get("display"), str) and node["display"].strip():
            yield node
        for v in node.values():
            if isinstance(v, (dict, list)):
                yield from codings(v)
    elif isinstance(node, list):
        for v in node:
            yield from codings(v)


# ------------------------------------------------------------------------------------ tables
def load_display_table(path: Path) -> dict[tuple[str, str, str], str]:
    """{(system, code, language): display}; a clear error naming the file before any data is read."""
    rows = read_user_table(path, COLUMNS, "display table")
    table = {}
    for i, row in enumerate(rows, start=2):
        key = tuple(str(row.get(c) or "").strip() for c in ("system", "code", "language"))
        display = str(row.get("display") or "").strip()
        if not all(key) or not display:
            raise TableError(f"terminology display table {path}, row {i}: system, code, language and display "
                             "must all be set")
        table[key] = display
    return table


@lru_cache(maxsize=8)
def user_displays(paths: tuple[str, ...]) -> dict[tuple[str, str, str], str]:
    table: dict[tuple[str, str, str], str] = {}
    for p in paths:
        table.update(load_display_table(Path(p)))
    return table


@lru_cache(maxsize=1)
def icd10_zh_categories() -> dict[str, str]:
    """Chinese names of ICD-10 categories (``data/icd10_zh_categories.csv``)."""
    import csv

    path = Path(__file__).resolve().parent / "data" / "icd10_zh_categories.csv"
    with open(path, encoding="utf-8") as fh:
        return {r["category"]: r["display"] for r in csv.DictReader(line for line in fh if not line.startswith("#"))}


@lru_cache(maxsize=65536)
def icd10_display(code: str, language: str) -> str | None:
    """The shipped preferred display of an ICD-10 code or category: the synonym dictionary's Chinese
    term for a category, the CMS ICD-10-CM description in English."""
    from transforms.terminology.concepts import preferred_display as dictionary_term

    if language == "zh":  # the category's term: the code itself carries the finer detail
        category = code.replace(".", "").upper()[:3]
        return dictionary_term(category, "zh") or icd10_zh_categories().get(category)
    try:
        import simple_icd_10_cm as cm

        if cm.is_valid_item(code):
            return cm.get_description(code)
    except Exception:  # noqa: BLE001 - a malformed code has no shipped display
        return None
    return None


def preferred_display(system: str, code: str, language: str, *, corpus: dict | None = None,
                      tables: tuple[str, ...] = (), fallback: str | None = None) -> str | None:
    """The one display of (system, code) in ``language``: user table, shipped table, corpus, own."""
    from transforms.terminology.codesystems import SYSTEMS

    user = user_displays(tuple(tables)).get((system, code, language)) if tables else None
    if user:
        return user
    if SYSTEMS.get(system) in ICD10_SYSTEMS:
        shipped = icd10_display(code, language)
        if shipped:
            return shipped
    return (corpus or {}).get((system, code, language)) or fallback


# ------------------------------------------------------------------------------------ Beam
def display_votes(record: dict):
    """((system, code, language), display) for every displayed coding of a patient record."""
    for res in record.get("resources") or []:
        for c in codings(res):
            d = c["display"].strip()
            yield (c["system"], c["code"], display_language(d)), d


def _most_used(candidates) -> tuple[str, int]:
    return min(candidates, key=lambda dn: (-dn[1], dn[0]))


def apply_displays(record: dict, corpus: dict, tables: tuple[str, ...] = ()) -> dict:
    """A copy of the record whose codings carry the preferred displays (the input is not changed;
    only resources with a changed display are copied)."""
    resources = record.get("resources") or []
    new_resources = None
    for ri, res in enumerate(resources):
        found = list(codings(res))
        best = [preferred_display(c["system"], c["code"], display_language(c["display"].strip()), corpus=corpus,
                                  tables=tables, fallback=c["display"].strip()) for c in found]
        if all(b == c["display"] for b, c in zip(best, found)):
            continue
        import orjson

        copy = orjson.loads(orjson.dumps(res))
        for c, b in zip(codings(copy), best):  # same walk, same order
            c["display"] = b
        new_resources = new_resources or list(resources)
        new_resources[ri] = copy
    return record if new_resources is None else {**record, "resources": new_resources}


class NormalizeDisplays(beam.PTransform):
    """Patient records -> the same records, every coding's display replaced by its preferred one."""

    def __init__(self, tables: tuple[str, ...] = ()):
        super().__init__()
        self.tables = tuple(tables)

    def expand(self, records):
        corpus = (records
                  | "DisplayVotes" >> beam.FlatMap(display_votes)
                  | "CountDisplays" >> beam.combiners.Count.PerElement()
                  | "ByConcept" >> beam.MapTuple(lambda concept_display, n: (concept_display[0],
                                                                             (concept_display[1], n)))
                  | "MostUsed" >> beam.CombinePerKey(_most_used)
                  | "DisplayOnly" >> beam.MapTuple(lambda concept, dn: (concept, dn[0])))
        return records | "ApplyDisplays" >> beam.Map(apply_displays, beam.pvalue.AsDict(corpus), self.tables)


def display_table_versions(tables: tuple[str, ...] = ()) -> dict[str, str]:
    from transforms.terminology.maps import _version

    return {Path(p).name: _version(Path(p)) for p in tables}
