"""Expectation suites pass on a built corpus and fail, naming expectation and column, on broken copies."""
from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations.validate import validate_corpus
from tests.pipeline.helpers import shared_build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return shared_build(tmp_path_factory, "sample-in-memory", "--direct_running_mode", "in_memory")


def _copy(corpus, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(corpus, dst)
    return dst


def _rewrite(out, split, fn):
    f = sorted((out / split).glob("*.parquet"))[0]
    table = pq.read_table(f)
    rows = table.to_pylist()
    fn(rows)
    # a broken copy, as another tool might write it: nullability is not enforced
    relaxed = pa.schema([fld.with_nullable(True) for fld in table.schema])
    pq.write_table(pa.Table.from_pylist(rows, schema=relaxed), f)


def _failures(result):
    return {(c["table"], c["expectation"], c["column"]) for c in result.failures()}


def test_suites_pass_on_the_bundled_sample(corpus):
    result = validate_corpus(corpus)
    assert result.success, result.summary_lines()
    assert (corpus / "quality" / "index.html").is_file() and (corpus / "quality" / "validation.json").is_file()
    assert (corpus / "quality" / "datadocs" / "index.html").is_file()  # Great Expectations Data Docs


def test_null_in_a_required_column_fails_naming_it(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    _rewrite(out, "preference", lambda rows: rows[0].update(prompt=None))
    result = validate_corpus(out)
    assert ("preference", "expect_column_values_to_not_be_null", "prompt") in _failures(result)
    assert any("prompt" in line and "FAILED" in line for line in result.summary_lines())


def test_a_patient_in_two_split_families_fails(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    key = pq.read_table(sorted((out / "evaluation").glob("*.parquet"))[0]).column("patient_key")[0].as_py()
    _rewrite(out, "sft", lambda rows: rows[0].update(patient_key=key))
    assert ("all splits", "expect_patient_key_in_one_split_family", "patient_key") in _failures(validate_corpus(out))


def test_a_planted_ssn_fails_the_residual_phi_check(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    _rewrite(out, "pretraining", lambda rows: rows[0].update(text=rows[0]["text"] + " SSN 123-45-6789"))
    assert ("pretraining", "expect_column_values_to_be_between", "_phi_hits") in _failures(validate_corpus(out))


def test_a_future_date_fails_timeliness(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    _rewrite(out, "pretraining", lambda rows: rows[0].update(date="2999-01-01"))
    assert ("pretraining", "expect_column_values_to_be_in_set", "_date_not_future") in _failures(validate_corpus(out))


def test_validate_cli_exits_1_on_failure_and_0_on_success(corpus, tmp_path):
    from pipelines.cli import main

    assert main(["validate", str(corpus)]) == 0
    out = _copy(corpus, tmp_path)
    _rewrite(out, "sft", lambda rows: rows[0].update(messages=[{"role": "user", "content": "x"}]))
    assert main(["validate", str(out)]) == 1


def test_a_date_shift_outside_the_policy_window_fails_timeliness(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    _rewrite(out, "lineage/inputs", lambda rows: next(r for r in rows if r["patient_key"]).update(date_shift_days=400))
    assert ("lineage/inputs", "expect_column_values_to_be_in_set", "_date_shift_in_window") in _failures(
        validate_corpus(out))
    _rewrite(out, "lineage/inputs", lambda rows: [r.update(date_shift_days=0) for r in rows if r["patient_key"]])
    assert ("lineage/inputs", "expect_column_values_to_be_in_set", "_date_shift_in_window") in _failures(
        validate_corpus(out))


def test_a_row_without_lineage_fails_consistency(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    _rewrite(out, "lineage/rows", lambda rows: rows.pop(0))
    assert ("all splits", "expect_every_row_to_have_lineage", "id") in _failures(validate_corpus(out))
