"""Imported expert labels become `fine` examples; a benchmark question planted in a training
document is removed and counted in the manifest; user map tables are checked at start-up."""
from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR

QUESTION = ("A 58-year-old man with type 2 diabetes and an eGFR of 25 asks whether he should keep taking "
            "metformin at his usual dose; what is the most appropriate advice?")


def test_labels_and_benchmark_decontamination(tmp_path, monkeypatch):
    src = tmp_path / "text"
    shutil.copytree(SAMPLE_DIR / "text" / "guidelines", src)
    (src / "planted.md").write_text("# Renal dosing\n\nCase discussion. " + QUESTION + " Metformin should be "
                                    "stopped below an eGFR of 30.\n", encoding="utf-8")
    bench = tmp_path / "medqa_sample.jsonl"
    bench.write_text(json.dumps({"question": QUESTION, "options": {"A": "stop metformin"}, "answer": "A"}) + "\n",
                     encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join([
        json.dumps({"id": "l1", "prompt": "What is HbA1c?", "response": "A measure of average blood glucose.",
                    "language": "en"}),
        json.dumps({"id": "l2", "prompt": "高血压的诊断标准？", "chosen": "诊室血压≥140/90mmHg。", "rejected": "血压≥120/80mmHg。",
                    "language": "zh"}),
        "{not json"]) + "\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"tasks:\n  labels: [{labels.name}]\nsplit:\n  evaluation_ratio: 0.0\n", encoding="utf-8")
    monkeypatch.setenv("MEDCORPUS_SECRET", "labels-test-secret-0123456789")
    out = tmp_path / "out"
    assert main(["build", "--config", str(cfg), "--source", f"text:{src}", "--benchmark", str(bench),
                 "--output", str(out), "--direct_running_mode", "in_memory"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    # the planted document and the guideline-QA example built from its sentence
    assert manifest["decontamination"].get("removed:medqa_sample") == 2
    texts = [r["text"] for f in (out / "pretraining").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert texts and not any("eGFR of 25" in t for t in texts)
    sft = [r for f in (out / "sft").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert not any("eGFR of 25" in m["content"] for r in sft for m in r["messages"])
    pref = [r for f in (out / "preference").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert any(r["annotation_level"] == "fine" and r["task_id"] == "imported_labels" for r in sft)
    assert any(r["annotation_level"] == "fine" and r["language"] == "zh" for r in pref)
    rejected = [r for f in (out / "rejected").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert any(r["error_kind"] == "invalid_label" and r["position"] == "line 3" for r in rejected)


def test_malformed_user_map_table_stops_the_build_before_reading(tmp_path, monkeypatch):
    bad = tmp_path / "local_map.csv"
    bad.write_text("code,target\n1,2\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"terminology:\n  maps: [{bad.name}]\n", encoding="utf-8")
    assert main(["build", "--config", str(cfg), "--output", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
