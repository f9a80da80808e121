"""Dedup in Beam: exact and near-duplicates collapse to one deterministic representative."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from transforms.dedup import Deduplicate, band_keys, minhash_signature, shingles

NOTE = ("Patient presents with cough and fever for three days. Lungs clear on auscultation. Temperature 38.2. "
        "Plan: rest, fluids, paracetamol as needed, follow up in one week if symptoms persist. ") * 2


def _run(docs, config=None):
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = p | beam.Create(docs) | Deduplicate(config or {"threshold": 0.7})
        return out


def test_copy_forward_notes_collapse_and_unrelated_notes_stay():
    docs = [
        {"doc_id": "b", "text": NOTE, "language": "en", "patient_key": "p1"},
        {"doc_id": "a", "text": NOTE, "language": "en", "patient_key": "p1"},
        {"doc_id": "c", "text": NOTE + " Added: patient also reports mild headache.", "language": "en", "patient_key": "p1"},
        {"doc_id": "d", "text": "Fracture of the left radius, cast applied, review in orthopaedic clinic in six weeks.",
         "language": "en", "patient_key": "p2"},
        {"doc_id": "e", "text": "患者男，67岁，高血压10年，规律服药，血压控制可。今日复诊，无不适。继续原方案治疗，一月后复查。",
         "language": "zh", "patient_key": None},
        {"doc_id": "f", "text": "患者男，67岁，高血压10年，规律服药，血压控制可。今日复诊，无不适。继续原方案治疗，两月后复查。",
         "language": "zh", "patient_key": None},
    ]
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = (p | beam.Create(docs) | Deduplicate({"threshold": 0.7})
               | beam.Map(lambda kv: (kv[0], kv[1]["cluster_id"], kv[1]["representative"])))
        assert_that(out, equal_to([("a", "a", True), ("b", "a", False), ("c", "a", False), ("d", "d", True),
                                   ("e", "e", True), ("f", "e", False)]))


def test_chains_of_near_duplicates_form_one_component():
    base = [f"line {i} of a long templated clinical note about diabetes follow up" for i in range(40)]
    docs = []
    for k in range(5):  # each version differs from the previous by two lines
        lines = list(base)
        for j in range(2 * k):
            lines[j] = f"copy-forward edit of line {j}"
        docs.append({"doc_id": f"v{k}", "text": "\n".join(lines), "language": "en", "patient_key": "p"})
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = (p | beam.Create(docs) | Deduplicate({"threshold": 0.7})
               | beam.Map(lambda kv: kv[1]["cluster_id"]) | beam.Distinct())
        assert_that(out, equal_to(["v0"]))


def test_signatures_are_deterministic_and_chinese_uses_character_shingles():
    assert (minhash_signature(NOTE) == minhash_signature(NOTE)).all()
    assert band_keys(minhash_signature(NOTE), 16, 8) == band_keys(minhash_signature(NOTE), 16, 8)
    assert all(len(s) == 5 for s in shingles("患者男六十七岁高血压十年"))


def test_precision_and_recall_on_synthea_notes_with_known_near_duplicates(shared_data):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_dedup

    docs = bench_dedup.documents(400)
    gold = bench_dedup.truth(docs)
    removed, _ = bench_dedup.run_medcorpus(docs)
    precision, recall = bench_dedup.pr(removed, gold)
    assert len(gold) > 50
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_exact_copies_keep_one_text_per_group_in_any_merge_order():
    """The exact stage's combiner holds one document per text: the smallest id, however the copies
    are split across bundles and merged."""
    import random

    from transforms.dedup import _ExactRepresentative

    fn = _ExactRepresentative()
    docs = [{"doc_id": f"d{i:04d}", "text": NOTE} for i in range(500)]
    rng = random.Random(7)
    rng.shuffle(docs)
    parts = [docs[i:i + 37] for i in range(0, len(docs), 37)]
    accs = []
    for part in parts:
        acc = fn.create_accumulator()
        for d in part:
            acc = fn.add_input(acc, d)
        accs.append(acc)
    rng.shuffle(accs)
    rep, others = fn.extract_output(fn.merge_accumulators([fn.create_accumulator()] + accs))
    assert rep["doc_id"] == "d0000"
    assert sorted(others) == [f"d{i:04d}" for i in range(1, 500)]
    assert all(isinstance(x, str) for x in others), "only ids, never the copies' documents"
