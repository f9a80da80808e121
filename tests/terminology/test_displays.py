"""Display normalisation: one preferred display per coded concept and language, everywhere."""
from __future__ import annotations

import copy

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from transforms.terminology.displays import (NormalizeDisplays, apply_displays, icd10_display,
                                             load_display_table, preferred_display)
from transforms.terminology.maps import TableError

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def _record(*codings):
    return {"patient_key": "pk-1", "resources": [
        {"resourceType": "Condition", "code": {"coding": [dict(system=s, code=c, display=d)]}} for s, c, d in codings]}


def _displays(records):
    return sorted((c["code"], c["display"]) for r in records for res in r["resources"] for c in res["code"]["coding"])


def test_icd10_codes_read_as_the_cms_description_and_the_chinese_term():
    assert icd10_display("E11.9", "en") == "Type 2 diabetes mellitus without complications"
    assert icd10_display("I10", "en") == "Essential (primary) hypertension"
    assert icd10_display("I10", "zh") == "高血压" and icd10_display("E11.9", "zh") == "2型糖尿病"
    assert icd10_display("NOT-A-CODE", "en") is None


def test_user_table_wins_then_shipped_then_corpus_then_own(tmp_path):
    table = tmp_path / "site_terms.csv"
    table.write_text("# version 2026.12\nsystem,code,language,display\n"
                     f"{ICD},I10,zh,原发性高血压\n{SCT},38341003,en,Hypertensive disorder\n", encoding="utf-8")
    tables = (str(table),)
    assert preferred_display(ICD, "I10", "zh", tables=tables) == "原发性高血压"
    assert preferred_display(ICD, "I10", "en", tables=tables) == "Essential (primary) hypertension"
    assert preferred_display(SCT, "38341003", "en", tables=tables, corpus={(SCT, "38341003", "en"): "HTN"}) == \
        "Hypertensive disorder"
    assert preferred_display(SCT, "44054006", "en", corpus={(SCT, "44054006", "en"): "Diabetes type 2"},
                             fallback="DM2") == "Diabetes type 2"
    assert preferred_display(SCT, "1234", "en", fallback="own words") == "own words"


def test_apply_displays_copies_and_never_changes_its_input():
    rec = _record((SCT, "44054006", "DM2"), (ICD, "E11.9", "T2DM"))
    before = copy.deepcopy(rec)
    out = apply_displays(rec, {(SCT, "44054006", "en"): "Diabetes mellitus type 2 (disorder)"})
    assert rec == before
    assert _displays([out]) == [("44054006", "Diabetes mellitus type 2 (disorder)"),
                                ("E11.9", "Type 2 diabetes mellitus without complications")]


def test_sites_spelling_a_concept_differently_read_the_same_in_the_corpus():
    records = [_record((SCT, "44054006", "Diabetes mellitus type 2 (disorder)")),
               _record((SCT, "44054006", "Diabetes mellitus type 2 (disorder)")),
               _record((SCT, "44054006", "type II diabetes")),
               _record((SCT, "73211009", "DM"), (SCT, "73211009", "Diabetes mellitus")),  # a tie: alphabetical
               _record((SCT, "73211009", "糖尿病"))]  # another language keeps its own display
    with beam.Pipeline(options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = p | beam.Create(records) | NormalizeDisplays()
        assert_that(out | beam.FlatMap(lambda r: _displays([r])), equal_to(
            [("44054006", "Diabetes mellitus type 2 (disorder)")] * 3 + [("73211009", "DM")] * 2
            + [("73211009", "糖尿病")]))


def test_malformed_display_table_fails_at_start_up_naming_the_file(tmp_path):
    bad = tmp_path / "terms.csv"
    bad.write_text("system,code,display\nx,1,y\n", encoding="utf-8")
    with pytest.raises(TableError, match="terms.csv lacks column.*language"):
        load_display_table(bad)
    bad.write_text("system,code,language,display\nhttp://loinc.org,2345-7,en,\n", encoding="utf-8")
    with pytest.raises(TableError, match="terms.csv, row 2"):
        load_display_table(bad)
    with pytest.raises(TableError, match="not found"):
        load_display_table(tmp_path / "missing.csv")
