"""`validate` checks the corpus against its manifest (shard list, row counts, sha256), names the
failing rows by id, lists failures first, and its Great Expectations Data Docs work offline (a
headless Chromium with no network draws the index with its rows and takes a screenshot).

Uses the session's shared in-memory sample build; each test validates a copy (~15 s each).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations.validate import validate_corpus
from pipelines.cli import main
from tests.pipeline.helpers import shared_build
from tests.pipeline.test_build_sample import CHROMIUM_FLAGS, _chromium


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return shared_build(tmp_path_factory, "sample-in-memory", "--direct_running_mode", "in_memory")


@pytest.fixture(scope="module")
def validated(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("validated") / "copy"
    shutil.copytree(corpus, out)
    assert main(["validate", str(out)]) == 0
    return out


def _copy(corpus, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(corpus, dst)
    return dst


def _failed(result):
    return {(c["table"], c["expectation"]): c for c in result.failures()}


def test_edited_deleted_and_unlisted_shards_fail_against_the_manifest(corpus, tmp_path, capsys):
    out = _copy(corpus, tmp_path)
    shard = sorted((out / "sft").glob("*.parquet"))[0]
    table = pq.read_table(shard)
    pq.write_table(table.slice(10), shard)  # ten rows deleted, as another tool's "cleanup" might leave it
    moved = sorted((out / "preference").glob("*.parquet"))[0]
    moved.rename(out / "preference" / "part-00007-of-00009.parquet")
    assert main(["validate", str(out)]) == 1
    stdout = capsys.readouterr().out
    rel = f"sft/{shard.name}"
    assert f"FAILED expect_shard_row_counts_to_match_manifest: {rel}: {table.num_rows - 10} rows, manifest.json " \
           f"says {table.num_rows}" in stdout
    assert f"FAILED expect_shard_sha256_to_match_manifest: {rel}: sha256 differs from manifest.json" in stdout
    assert (f"FAILED expect_shard_list_to_match_manifest: preference/{moved.name}: listed in manifest.json but "
            "missing; preference/part-00007-of-00009.parquet: not listed in manifest.json") in stdout


def test_failures_name_the_failing_rows_by_id_and_come_first(corpus, tmp_path):
    out = _copy(corpus, tmp_path)
    shard = sorted((out / "sft").glob("*.parquet"))[0]
    rows = pq.read_table(shard).to_pylist()
    bad_ids = sorted(r["id"] for r in rows[:7])
    for r in rows[:7]:
        r["language"] = "klingon"
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(shard)), shard)
    for f in (out / "evaluation").glob("*.parquet"):
        pq.write_table(pq.read_table(f).slice(0, 0), f)
    result = validate_corpus(out)
    failed = _failed(result)
    check = failed[("sft", "expect_column_values_to_be_in_set")]
    assert check["column"] == "language" and check["unexpected"] == 7 and sorted(check["ids"]) == bad_ids
    line = next(line for line in result.summary_lines() if "on column 'language'" in line)
    assert "7 unexpected row(s) (" in line and sum(i in line for i in bad_ids) == 5 and "+2 more" in line
    # a table-level failure says what was observed
    assert failed[("evaluation", "expect_table_row_count_to_be_between")]["observed"] == 0
    saved = (out / "quality" / "validation.json").read_text()
    assert "see details" not in saved and "klingon" not in saved  # ids, never values
    page = (out / "quality" / "index.html").read_text(encoding="utf-8")
    results = re.findall(r"<tr class='(ok|bad)'>", page)
    assert results[0] == "bad" and results.index("ok") == results.count("bad") >= 3
    assert bad_ids[0] in page


def test_data_docs_render_offline_in_headless_chromium(validated, tmp_path):
    from PIL import Image, ImageStat

    exe = _chromium()
    site = validated / "quality" / "datadocs"
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']https?://", text), page
    flags = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}",
                              "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]  # no network at all
    url = (site / "index.html").resolve().as_uri()
    dom = subprocess.run([exe, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    tables = ("sft", "preference", "pretraining", "evaluation", "rejected")
    assert dom.count("<tr") > len(tables) and all(f"medcorpus.{t}" in dom for t in tables)  # bootstrap-table drew them
    shot = tmp_path / "datadocs.png"
    subprocess.run([exe, *flags, "--window-size=1280,900", f"--screenshot={shot}", url], capture_output=True,
                   timeout=180, check=True)
    img = Image.open(shot).convert("L")
    assert ImageStat.Stat(img).stddev[0] > 20  # not a blank page
    # the table rows sit below the header: the lower half of the page holds drawn content too
    lower = img.crop((0, 300, 1280, 700))
    assert ImageStat.Stat(lower).stddev[0] > 15
    print(f"Data Docs screenshot: {shot}", file=sys.stderr)


def test_the_leak_gate_skips_exact_copies_of_the_vendored_data_docs_assets_only(tmp_path):
    """The offline Data Docs ship bootstrap-table, whose licence banner holds its author's e-mail: an
    exact copy is medcorpus's own file and passes the leak gate; a copy with anything added is scanned."""
    from expectations.datadocs import VENDOR, library_hashes
    from transforms.quality.leak_gate import scan_output

    vendored = tmp_path / "quality" / "datadocs" / "static" / "vendor" / "bootstrap-table" / "LICENSE"
    vendored.parent.mkdir(parents=True)
    shutil.copyfile(VENDOR / "bootstrap-table-1.19.1" / "LICENSE", vendored)
    assert not scan_output(tmp_path)["ok"]  # the banner's e-mail address is a hit without the exemption
    result = scan_output(tmp_path, library=library_hashes())
    assert result["ok"] and result["library_files_skipped"] == 1
    vendored.write_text(vendored.read_text(encoding="utf-8") + "\nCall 555-867-5309\n", encoding="utf-8")
    assert not scan_output(tmp_path, library=library_hashes())["ok"]
