"""`medcorpus build` on the bundled sample: every split has rows, counts reconcile, runs repeat.

The sample is built three times (module-scoped): the default multi-process DirectRunner, the
in-memory DirectRunner, and the portable runner with an embedded job server (our proof that the
pipeline runs on Flink and Dataflow, which use the same portable protocol).
"""
from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from schemas.tables import FAMILY, LAYOUT, SPLITS
from tests.pipeline.helpers import build, read_table, shared_build, sorted_rows


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = build(out)
    return out, manifest


@pytest.fixture(scope="module")
def corpus_in_memory(tmp_path_factory):
    return shared_build(tmp_path_factory, "sample-in-memory", "--direct_running_mode", "in_memory")


@pytest.fixture(scope="module")
def corpus_portable(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus_portable")
    build(out, "--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "LOOPBACK")
    return out


def test_every_split_has_rows_and_enforces_its_schema(corpus):
    out, manifest = corpus
    text_tables = [text for text, _ in LAYOUT.values()]
    for split, schema in SPLITS.items():
        table = read_table(out, split)
        assert table.num_rows > 0 or split not in text_tables, split
        assert table.schema.remove_metadata().equals(schema.remove_metadata()), split
        assert manifest["counts"]["by_split"][split] == table.num_rows
    # the sample's DICOM studies give image rows, each in its family's multimodal table only
    assert manifest["counts"]["by_split"]["pretraining_images"] > 0
    for text in text_tables:
        assert not {"image", "images"} & set(read_table(out, text).column_names), text


def test_shards_are_named_and_hashed_in_the_manifest(corpus):
    import hashlib

    out, manifest = corpus
    for table, shards in manifest["shards"].items():
        for shard in shards:
            name = shard["path"].split("/")[-1]
            assert name.startswith("part-") and "-of-" in name and name.endswith(".parquet"), name
            data = (out / shard["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == shard["sha256"]
            assert pq.read_metadata(out / shard["path"]).num_rows == shard["rows"]


def test_counts_reconcile(corpus):
    _, manifest = corpus
    rec = manifest["reconciliation"]
    assert rec["ok"], rec["problems"]
    u = rec["units"]
    assert u["read"] > 0
    assert u["read"] == u["written"] + sum(u["filtered"].values()) + sum(u["rejected"].values())


def test_bad_sample_inputs_are_rejected_with_reason_and_no_payload(corpus):
    out, manifest = corpus
    rejected = read_table(out, "rejected").to_pylist()
    assert rejected, "the sample carries deliberately broken files"
    for row in rejected:
        assert row["stage"] and row["error_kind"] and row["source"] and row["position"]
        assert len(row["message"]) < 300
    assert manifest["counts"]["rejected_rows"] == len(rejected)


def test_manifest_records_run_facts_without_the_secret(corpus):
    out, manifest = corpus
    from pipelines.secret import DEMO_SECRET

    assert manifest["demo"] is True
    for key in ("run_id", "medcorpus_version", "config_hash", "deid_policy", "runner", "started", "finished"):
        assert manifest[key], key
    assert manifest["deid_policy"]["id"] and manifest["deid_policy"]["version"]
    text = (out / "manifest.json").read_text()
    assert DEMO_SECRET.decode() not in text


def test_rows_carry_the_common_columns(corpus):
    out, _ = corpus
    for split in SPLITS:
        for row in read_table(out, split).to_pylist():
            assert row["id"] and row["source_kind"] in ("fhir", "text", "dicom")
            assert row["tier"] in ("general", "specialty", "task")
            assert row["annotation_level"] in ("none", "weak", "fine")
            assert row["language"] in ("zh", "en", "mixed", "other")
    sft = read_table(out, "sft").to_pylist()
    assert all(r["messages"][-1]["role"] == "assistant" for r in sft)
    pref = read_table(out, "preference").to_pylist()
    assert all(r["chosen"] != r["rejected"] for r in pref)


def test_no_patient_in_two_splits(corpus):
    out, _ = corpus
    family = {}
    for split in SPLITS:
        for key in read_table(out, split).column("patient_key").to_pylist():
            if key:
                fam = "evaluation" if FAMILY[split] == "evaluation" else "train"
                assert family.setdefault(key, fam) == fam, "a patient is in evaluation and training"


def test_image_rows_hold_png_structs(corpus):
    out, _ = corpus
    assert "image" not in read_table(out, "pretraining").column_names
    rows = read_table(out, "pretraining_images").to_pylist()
    assert rows, "the sample's DICOM studies give image rows"
    for r in rows:
        assert r["image"]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
        assert r["image"]["path"].endswith(".png") and r["modality"] == "image"


def test_splits_load_with_duckdb_and_pandas(corpus):
    out, _ = corpus
    con = duckdb.connect()
    for split in SPLITS:
        n = con.execute(f"select count(*) from read_parquet('{out}/{split}/*.parquet')").fetchone()[0]
        assert n == read_table(out, split).num_rows
        assert len(read_table(out, split).to_pandas()) == n


def test_two_runs_give_identical_rows(corpus, corpus_in_memory):
    out, _ = corpus
    assert sorted_rows(out) == sorted_rows(corpus_in_memory)


def test_portable_runner_gives_identical_rows(corpus, corpus_portable):
    out, _ = corpus
    assert sorted_rows(out) == sorted_rows(corpus_portable)


def test_data_card_and_audit_log_are_written_without_the_secret(corpus):
    from pipelines.secret import DEMO_SECRET
    from transforms.deid.keys import hmac_hex

    out, manifest = corpus
    card = (out / "DATA_CARD.md").read_text(encoding="utf-8")
    audit = json.loads((out / "audit.json").read_text())
    assert manifest["deid_policy"]["id"] in card and "blind spot" in card
    assert audit["secret_fingerprint"] == manifest["secret_fingerprint"] and audit["config_hash"] == manifest["config_hash"]
    # every listed input file, by pseudonym; the sample's zero-byte file is rejected unread (no digest)
    assert len(audit["inputs"]) > 25 and all(i["source_id"].split(":", 1)[1].startswith("src-") for i in audit["inputs"])
    assert [i["bytes"] for i in audit["inputs"] if i["content_hmac"] is None] == [0]
    # content digests are keyed: the plain sha256 (restricted lineage/sources) is in no shareable file
    sources = read_table(out, "lineage/sources").to_pylist()
    by_id = {r["source_id"]: r["sha256"] for r in sources}
    assert all(i["content_hmac"] == hmac_hex(DEMO_SECRET, "input-content", by_id[i["source_id"]], 64)
               for i in audit["inputs"] if i["bytes"])
    shareable = json.dumps(audit) + card + (out / "manifest.json").read_text()
    assert not [r for r in sources if r["sha256"] and r["sha256"] in shareable]
    assert "synthea/" not in json.dumps(audit) and "notes_en" not in card + json.dumps(audit)
    assert {o["path"] for o in audit["outputs"]} == {s["path"] for shards in manifest["shards"].values() for s in shards}
    for text in (card, json.dumps(audit)):
        assert DEMO_SECRET.decode() not in text
    assert not (out / "_stats").exists()


def test_every_row_of_every_split_carries_quality_signals(corpus):
    out, _ = corpus
    inputs = read_table(out, "lineage/inputs").to_pylist()
    with_fhir = {i["patient_key"] for i in inputs if i["source_kind"] == "fhir"}
    for split in SPLITS:
        table = read_table(out, split)
        assert table.column("q_chars").null_count == 0, split
        assert table.column("q_alpha_share").null_count == 0, split
        # rows of patients with a FHIR record carry its record signals (completeness, validity, timeliness);
        # every text-only table holds such rows (a multimodal one may hold only DICOM + report patients)
        rows = [r for r in table.select(["patient_key", "q_record_completeness", "q_invalid_units"]).to_pylist()
                if r["patient_key"] in with_fhir]
        assert rows or split != LAYOUT[FAMILY[split]][0], split
        assert all(r["q_record_completeness"] is not None and r["q_invalid_units"] is not None for r in rows), split


def _lineage(out):
    return read_table(out, "lineage/rows").to_pylist(), read_table(out, "lineage/inputs").to_pylist()


def test_lineage_traces_every_output_row_to_its_inputs(corpus):
    out, manifest = corpus
    rows, inputs = _lineage(out)
    by_id = {(r["split"], r["id"]): r for r in rows}
    assert len(by_id) == len(rows)
    for split in SPLITS:
        ids = read_table(out, split).column("id").to_pylist()
        assert {(split, i) for i in ids} <= set(by_id), split
    assert len(rows) == sum(manifest["counts"]["by_split"].values())
    # one lineage/inputs row per input unit written by de-identification, each from a hashed input file
    assert len(inputs) == manifest["reconciliation"]["units"]["written"]
    audited = {i["source_id"] for i in json.loads((out / "audit.json").read_text())["inputs"]}
    units = {f"{i['source']}#{i['position']}" for i in inputs}
    assert {i["source_id"] for i in inputs} <= audited
    keys = {i["patient_key"] for i in inputs if i["patient_key"]}
    for r in rows:
        assert r["inputs"] and r["stages"][0].startswith("read@") and r["stages"][-1].startswith("write@")
        for ref in r["inputs"]:
            if ref.startswith("patient:"):
                assert ref[len("patient:"):] in keys
            elif not ref.startswith("labels:"):
                assert ref in units, ref
    policy = manifest["deid_policy"]
    assert all(f"deid@{policy['id']}/{policy['version']}" in r["stages"] for r in rows)
    # FHIR notes point at the exact resource, DICOM images at every instance of their series
    pre = {r["id"]: r for r in rows if r["split"] in LAYOUT["pretraining"]}
    kinds = {i: k for t in LAYOUT["pretraining"]
             for i, k in zip(*(read_table(out, t).column(c).to_pylist() for c in ("id", "source_kind")))}
    assert any(k == "fhir" and pre[i]["inputs"][0].split("#")[1].startswith("entry") for i, k in kinds.items())
    assert any(k == "dicom" and pre[i]["inputs"][0].startswith("dicom:") for i, k in kinds.items())
    window = policy["date_shift_max_days"]
    assert all(0 < abs(i["date_shift_days"]) <= window for i in inputs if i["patient_key"])


def test_forget_removes_a_patient_everywhere_and_updates_the_manifest(corpus, tmp_path):
    import hashlib
    import shutil

    from pipelines.cli import main

    src, _ = corpus
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    rows, inputs = _lineage(out)
    counts = {}
    for r in rows:
        if r["patient_key"]:
            counts.setdefault(r["patient_key"], set()).add(r["split"])
    key = next(k for k, s in sorted(counts.items()) if {"pretraining", "sft"} <= s)
    before = {t: read_table(out, t).num_rows for t in list(SPLITS) + ["lineage/rows", "lineage/inputs"]}
    assert main(["forget", str(out), "--key", key]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    removed = manifest["forgotten"][-1]["rows_removed"]
    for table, n in before.items():
        t = read_table(out, table)
        assert key not in t.column("patient_key").to_pylist(), table
        assert t.num_rows == n - removed.get(table, 0), table
    assert removed["pretraining"] > 0 and removed["sft"] > 0 and removed["lineage/inputs"] > 0
    for split in SPLITS:
        assert manifest["counts"]["by_split"][split] == read_table(out, split).num_rows
    for shards in manifest["shards"].values():
        for s in shards:
            assert hashlib.sha256((out / s["path"]).read_bytes()).hexdigest() == s["sha256"], s["path"]
    audit = (out / "audit.json").read_text()
    assert key not in audit and hashlib.sha256(key.encode()).hexdigest()[:12] in audit
    assert key not in (out / "report" / "index.html").read_text(encoding="utf-8")
    # by source file: every patient with data from that file; by source id with the build's secret
    other = next(i for i in sorted(inputs, key=lambda i: i["source"]) if i["patient_key"] not in (None, key)
                 and i["source"].startswith("fhir:synthea/"))
    assert main(["forget", str(out), "--source", other["source"]]) == 0
    assert other["patient_key"] not in read_table(out, "lineage/inputs").column("patient_key").to_pylist()
    patient_id = other["source"].rsplit("/", 1)[-1].split(".")[0]  # Synthea names bundles by Patient.id
    assert main(["forget", str(out), "--patient-id", patient_id]) == 0
    last = json.loads((out / "manifest.json").read_text())["forgotten"][-1]
    assert last["key_fingerprints"] == [hashlib.sha256(other["patient_key"].encode()).hexdigest()[:12]]
    assert main(["forget", str(out), "--source", "fhir:no-such-file.json"]) == 2


def test_report_is_self_contained_and_holds_no_phi(corpus):
    from pipelines.sample.export import SAMPLE_DIR

    out, manifest = corpus
    import re

    page = (out / "report" / "index.html").read_text(encoding="utf-8")
    # plotly.js is inlined once (its own code mentions map-tile URLs it never fetches for these charts)
    assert page.count("<script>") >= 1 and "<script src" not in page
    ours = re.sub(r"<script>.*?</script>", "", page, count=1, flags=re.S)
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", ours)
    for section in ("Disease × scenario matrix", "Quality-signal distributions", "Rejected by reason",
                    "entities replaced", "Language mix", "Terminology coverage", "Expectation suites",
                    "Leak gate", "De-identified images"):
        assert section in page, section
    assert "<img alt='de-identified image'" not in page  # row content (thumbnails) only when asked for
    assert f"{manifest['counts']['by_split']['pretraining']}" in page
    # the sample patients' real names and birth dates never reach the report
    names = set()
    for bundle in (SAMPLE_DIR / "fhir" / "synthea").glob("*.json*"):
        import gzip

        raw = gzip.open(bundle).read() if bundle.suffix == ".gz" else bundle.read_bytes()
        for e in json.loads(raw)["entry"]:
            res = e["resource"]
            if res["resourceType"] == "Patient":
                names |= {n["family"] for n in res.get("name", [])} | {res["birthDate"]}
    assert len(names) > 5 and not [n for n in names if n in page]


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=15000"]


def _chromium():
    import os
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("MEDCORPUS_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (MEDCORPUS_REQUIRE_BROWSER is set) but not installed")
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return exe


def test_report_renders_in_headless_chromium(corpus, tmp_path):
    """A real browser draws every chart (plotly's SVG in the DOM) and a screenshot of the page."""
    import subprocess

    from PIL import Image, ImageStat

    exe = _chromium()
    out, _ = corpus
    url = (out / "report" / "index.html").resolve().as_uri()
    common = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([exe, *common, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    page = (out / "report" / "index.html").read_text(encoding="utf-8")
    charts = page.count('class="plotly-graph-div"')
    assert charts >= 10
    assert dom.count('class="main-svg"') >= charts  # every chart was drawn by plotly.js
    assert "heatmaplayer" in dom or "hm" in dom
    shot = tmp_path / "report.png"
    subprocess.run([exe, *common, "--window-size=1280,3000", f"--screenshot={shot}", url],
                   capture_output=True, timeout=180, check=True)
    img = Image.open(shot).convert("L")
    assert img.size == (1280, 3000)
    assert ImageStat.Stat(img).stddev[0] > 20  # not a blank page
    print(f"report screenshot: {shot}")


def test_a_diagnosis_reads_the_same_in_every_example(corpus):
    """Display normalisation: an ICD-10 code has one name per language across the whole corpus."""
    import re
    from collections import defaultdict

    from transforms.tasks.builders import icd10_name

    out, _ = corpus
    answers = [(r["language"], m["content"]) for r in read_table(out, "sft").to_pylist()
               for m in r["messages"] if m["role"] == "assistant"]
    answers += [(r["language"], m["content"]) for r in read_table(out, "preference").to_pylist() for m in r["chosen"]]
    names = defaultdict(set)
    for lang, text in answers:
        for code, name in re.findall(r"(?m)^([A-Z]\d\d(?:\.\w+)?) - (.+)$", text):
            names[(code, lang)].add(name.strip())
    assert len(names) >= 5
    assert {k: v for k, v in names.items() if len(v) > 1} == {}
    for (code, lang), (name,) in names.items():
        assert name == icd10_name(code, lang), (code, lang)
