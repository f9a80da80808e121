"""The de-identification evaluation (benchmarks/bench_text_deid.py) meets its targets on a subset:
recall >= 0.99 for names and identifiers, >= 0.98 overall; retention >= 0.97 — on Synthea notes with
gold PHI from each patient's own record, and on synthetic Chinese notes with realistic fake PHI."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_text_deid as bench  # noqa: E402


def _check(recall: dict, retention: float):
    for kind in ("name", "identifier"):
        if kind in recall:
            assert recall[kind] >= 0.99, (kind, recall)
    assert recall["overall"] >= 0.98, recall
    assert retention >= 0.97, retention


def test_english_synthea_notes_meet_the_targets(shared_data):
    notes = bench.load_notes(80)
    outs, _ = bench.run_medcorpus(notes)
    recall, retention = bench.score(zip([(t, g) for _, t, g in notes], outs))
    assert sum(1 for _, _, g in notes for k in g.values() if k == "name") > 50
    _check(recall, retention)


def test_chinese_synthetic_notes_meet_the_targets():
    notes = bench.chinese_notes(90)
    outs, _ = bench.run_medcorpus(notes, language="zh")
    recall, retention = bench.score(zip([(t, g) for _, t, g in notes], outs))
    _check(recall, retention)
