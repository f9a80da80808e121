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

from schemas.tables import SPLITS
from tests.pipeline.helpers import build, read_table, sorted_rows


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = build(out)
    return out, manifest


@pytest.fixture(scope="module")
def corpus_in_memory(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus_mem")
    build(out, "--direct_running_mode", "in_memory")
    return out


@pytest.fixture(scope="module")
def corpus_portable(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus_portable")
    build(out, "--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "LOOPBACK")
    return out


def test_every_split_has_rows_and_enforces_its_schema(corpus):
    out, manifest = corpus
    for split, schema in SPLITS.items():
        table = read_table(out, split)
        assert table.num_rows > 0, split
        assert table.schema.remove_metadata().equals(schema.remove_metadata()), split
        assert manifest["counts"]["by_split"][split] == table.num_rows


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
                fam = "evaluation" if split == "evaluation" else "train"
                assert family.setdefault(key, fam) == fam, "a patient is in evaluation and training"


def test_image_rows_hold_png_structs(corpus):
    out, _ = corpus
    rows = [r for r in read_table(out, "pretraining").to_pylist() if r["modality"] == "image"]
    assert rows, "the sample's DICOM studies give image rows"
    for r in rows:
        assert r["image"]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
        assert r["image"]["path"].endswith(".png")


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


def test_splits_load_with_hugging_face_datasets(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    import datasets

    out, manifest = corpus
    for split in SPLITS:
        ds = datasets.load_dataset("parquet", data_dir=str(out / split), split="train",
                                   cache_dir=str(tmp_path / "hf"))
        assert ds.num_rows == manifest["counts"]["by_split"][split]
    sft = datasets.load_dataset("parquet", data_dir=str(out / "sft"), split="train", cache_dir=str(tmp_path / "hf"))
    assert sft[0]["messages"][-1]["role"] == "assistant"


def test_data_card_and_audit_log_are_written_without_the_secret(corpus):
    from pipelines.secret import DEMO_SECRET

    out, manifest = corpus
    card = (out / "DATA_CARD.md").read_text(encoding="utf-8")
    audit = json.loads((out / "audit.json").read_text())
    assert manifest["deid_policy"]["id"] in card and "blind spot" in card
    assert audit["secret_fingerprint"] == manifest["secret_fingerprint"] and audit["config_hash"] == manifest["config_hash"]
    assert len(audit["inputs"]) > 25 and all(len(i["sha256"]) == 64 for i in audit["inputs"])
    assert {o["path"] for o in audit["outputs"]} == {s["path"] for shards in manifest["shards"].values() for s in shards}
    for text in (card, json.dumps(audit)):
        assert DEMO_SECRET.decode() not in text
    assert not (out / "_stats").exists()
