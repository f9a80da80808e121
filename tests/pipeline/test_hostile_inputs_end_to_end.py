"""Issue 15 end to end: every hostile input through ``medcorpus build`` and ``medcorpus deid``.

One build and one deid run over all cases (tests/pipeline/hostile.py, generated, tiny; limits
lowered by config so the inputs that hit them stay small), in one process (in_memory runner).
Each test checks one behaviour: exit 0, counts that reconcile, exactly one rejected row per broken
unit with its reason, the good units beside the bad ones written, no raw value in any reject.
"""
from __future__ import annotations

import json
import os
from collections import Counter

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from tests.pipeline.hostile import CONFIG, MARK, breaking_structural_deid, write_hostile_inputs

SECRET = "hostile-inputs-test-secret-0123456789"


def _run(argv: list[str]) -> int:
    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        with breaking_structural_deid():  # in_memory runs in this process, so the patch reaches the workers
            return main(argv + ["--direct_running_mode", "in_memory"])
    finally:
        os.environ.pop("MEDCORPUS_SECRET", None)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    case = write_hostile_inputs(root / "in")
    (root / "limits.yaml").write_text(CONFIG)
    case.update(root=root, config=str(root / "limits.yaml"))
    return case


@pytest.fixture(scope="module")
def built(inputs):
    out = inputs["root"] / "corpus"
    code = _run(["build", *[a for s in inputs["sources"] for a in ("--source", s)], "--config", inputs["config"],
                 "--output", str(out)])
    return code, out


@pytest.fixture(scope="module")
def deidentified(inputs):
    out = inputs["root"] / "deid"
    paths = [s.split(":", 1)[1] for s in inputs["sources"]]
    code = _run(["deid", *paths, "--config", inputs["config"], "--output", str(out)])
    return code, out


def _rows(out, table):
    return [r for f in sorted((out / table).glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


# -- medcorpus build ------------------------------------------------------------------------------------
def test_build_exits_zero_and_counts_reconcile(built, inputs):
    code, out = built
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    rec = manifest["reconciliation"]
    assert rec["ok"], rec["problems"]
    units = rec["units"]
    assert units["read"] == units["written"] + sum(units["filtered"].values()) + sum(units["rejected"].values())
    assert units["written"] == len(inputs["written"]) and sum(units["rejected"].values()) == len(inputs["rejects"])


def test_build_rejects_exactly_one_row_per_broken_unit_with_its_reason(built, inputs):
    _, out = built
    # rejected/ names files by keyed pseudonyms; the restricted lineage/sources maps them back
    names = {r["source_id"]: r["source"] for r in _rows(out, "lineage/sources")}
    assert all(r["source"] in names for r in _rows(out, "rejected"))
    rows = Counter((names[r["source"]], r["position"], r["stage"], r["error_kind"]) for r in _rows(out, "rejected"))
    assert rows == Counter(inputs["rejects"])


def test_build_writes_the_good_units_beside_the_bad_ones(built, inputs):
    _, out = built
    written = {f"{r['source']}#{r['position']}" for r in _rows(out, "lineage/inputs")}
    assert set(inputs["written"]) == written


def test_numeric_patient_id_links_its_observation_without_a_crash(built):
    _, out = built
    keys = {r["position"]: r["patient_key"] for r in _rows(out, "lineage/inputs")
            if r["source"] == "fhir:id_numeric.ndjson"}
    assert keys["line 1"] == keys["line 2"] != keys["line 3"]


def test_two_sources_with_the_same_relative_path_give_distinct_row_ids(built):
    _, out = built
    ids = {}
    for r in _rows(out, "lineage/rows"):
        for source in ("text:text/notes.txt#file", "text:text2/notes.txt#file"):
            if source in r["inputs"] and r["split"] == "pretraining":
                ids.setdefault(source, set()).add(r["id"])
    assert len(ids) == 2 and not (ids["text:text/notes.txt#file"] & ids["text:text2/notes.txt#file"])


def test_build_decodes_bom_utf16_gb18030_and_damaged_utf8_and_counts_it(built):
    _, out = built
    encodings = json.loads((out / "manifest.json").read_text())["stages"]["encodings"]["read"]["other"]
    assert encodings["decoded:utf-8-sig"] == 1 and encodings["decoded:utf-16"] == 2
    assert encodings["decoded:gb18030"] == 1 and encodings["replaced_invalid_utf8"] >= 1


def test_no_raw_value_of_a_broken_unit_reaches_any_output(built):
    _, out = built
    for table in ("rejected", "pretraining", "sft", "preference", "evaluation", "review", "lineage/inputs"):
        assert MARK not in json.dumps(_rows(out, table), default=str), table
    for name in ("manifest.json", "DATA_CARD.md", "audit.json"):
        assert MARK not in (out / name).read_text(), name


# -- medcorpus deid -------------------------------------------------------------------------------------
def _summary(out) -> dict:
    return json.loads((out / "deid_summary.json").read_text())["counts"]


def test_deid_exits_zero_and_every_file_is_written_quarantined_or_rejected_once(deidentified):
    code, out = deidentified
    assert code == 0
    c = _summary(out)
    ended = c.get("files:written", 0) + c.get("files:quarantined", 0) + sum(
        v for k, v in c.items() if k.startswith("files:rejected:"))
    assert c["files:listed"] == ended == 23
    written = [p for p in out.rglob("*") if p.is_file() and p.name != "deid_summary.json"]
    assert len(written) == c["files:written"]  # the summary says what is on disk


def test_deid_rejects_the_same_broken_units_as_build(deidentified):
    _, out = deidentified
    c = _summary(out)
    assert {k: v for k, v in c.items() if k.startswith(("rejected:", "files:rejected:"))} == {
        "rejected:invalid_id": 1, "rejected:invalid_entry": 1, "rejected:invalid_json": 1,
        "rejected:too_deeply_nested": 1, "rejected:invalid_patient_reference": 1, "rejected:text_too_long": 2,
        "rejected:deid_failed:ValueError": 1, "rejected:csv_cell_too_large": 1,
        "rejected:invalid_patient_id": 1,
        "files:rejected:invalid_json": 1, "files:rejected:too_many_entries": 1,
        "files:rejected:symlink_outside_root": 1, "files:rejected:compression_ratio_exceeded": 1}
    assert MARK not in json.dumps(c)


def _out(out, rel: str, kind: str):
    """Where deid wrote an input: keyed folder and file names (``transforms.deid.files.output_path``)."""
    from transforms.deid.files import output_path

    return out / output_path(SECRET.encode(), rel, kind, False)


def test_deid_writes_the_good_units_of_files_with_bad_ones(deidentified):
    import csv

    _, out = deidentified
    lines = _out(out, "line_array.ndjson", "fhir-ndjson").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["resourceType"] == "Patient"
    bundle = json.loads(_out(out, "entry_string.json", "fhir-json").read_text())
    assert len(bundle["entry"]) == 1
    notes = [json.loads(line) for line in _out(out, "text/bad_byte.jsonl", "jsonl").read_text().splitlines()]
    assert len(notes) == 5 and sum("\ufffd" in n["text"] for n in notes) == 1
    rows = list(csv.DictReader(_out(out, "text/long_cell.csv", "csv").read_text().splitlines()))
    assert len(rows) == 1 and rows[0]["patient_id"].startswith("pk-") and rows[0]["comment"] == "fine"
    assert json.loads(_out(out, "utf16.ndjson", "fhir-ndjson").read_text().splitlines()[0])["resourceType"] == "Patient"
    assert json.loads(_out(out, "gb18030.json", "fhir-json").read_text())["resourceType"] == "Patient"
    lines = _out(out, "deid_fails.ndjson", "fhir-ndjson").read_text().splitlines()
    assert [json.loads(line)["resourceType"] for line in lines] == ["Patient", "Condition"]
    assert not _out(out, "link.json", "fhir-json").exists() and not _out(out, "truncated.json", "fhir-json").exists()


def test_deid_never_overwrites_one_of_two_inputs_with_the_same_name(deidentified):
    _, out = deidentified
    a, b = _out(out, "text/notes.txt", "text").read_text(), _out(out, "text2/notes.txt", "text").read_text()
    assert "Chronic kidney disease" in a and "wrist fracture" in b
