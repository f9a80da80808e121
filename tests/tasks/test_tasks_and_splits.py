"""Task builders on real Synthea records; splits and decontamination."""
from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from transforms.split.assign import leakage_check, split_family
from transforms.split.decontaminate import Decontaminate, load_benchmarks, ngram_keys
from transforms.tasks import build_examples_for_record, register_builder
from transforms.tasks.builders import corruptions
from transforms.terminology.annotate import annotate_patient_codes
from transforms.tiering.matrix import MatrixError, classify, icd10_matches, load_matrix

SAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "sample" / "data" / "fhir" / "synthea"


def record_from_bundle(path: Path) -> dict:
    """A raw bundle in the de-identified record shape (the tasks only need the shape)."""
    resources = [e["resource"] for e in json.loads(gzip.decompress(path.read_bytes()))["entry"]]
    docs = []
    for r in resources:
        if r["resourceType"] == "DocumentReference":
            text = base64.b64decode(r["content"][0]["attachment"]["data"]).decode()
            docs.append({"doc_id": r["id"], "text": text, "language": "en", "doc_type": "clinical_note",
                         "modality": "text", "source_kind": "fhir", "encounter": r["context"]["encounter"][0]["reference"]})
    codes = annotate_patient_codes(resources)["disease_codes"]
    return {"patient_key": "pk-" + path.name[:16], "resources": resources, "documents": docs, "images": [],
            "disease_codes": codes}


@pytest.fixture(scope="module")
def examples():
    matrix = load_matrix()
    out = []
    for f in sorted(SAMPLE.glob("*.json.gz")):
        out += build_examples_for_record(record_from_bundle(f), matrix)
    return out


def test_builders_produce_valid_chat_examples_with_annotation_levels(examples):
    kinds = {e["builder"] for e in examples}
    assert {"note_to_diagnoses", "lab_interpretation", "near_miss_pairs", "discharge_summary", "record_summary",
            "triage", "consultation"} <= kinds
    for e in examples:
        assert e["annotation_level"] in ("none", "weak", "fine") and e["tier"] == "task"
        if "messages" in e:
            roles = [m["role"] for m in e["messages"]]
            assert roles[-1] == "assistant" and roles[0] == "user"
        if e["set"] == "preference":
            assert e["chosen"] != e["rejected"] and e["corruption"]


def test_quotas_are_respected_and_examples_are_deterministic(examples):
    from collections import Counter

    matrix = load_matrix()
    per = Counter((e["patient_key"], e["task_id"], e["language"]) for e in examples)
    quota = {t["id"]: t["quota"]["max"] for t in matrix.tasks}
    assert all(n <= quota[task] for (_, task, _), n in per.items())
    again = []
    for f in sorted(SAMPLE.glob("*.json.gz")):
        again += build_examples_for_record(record_from_bundle(f), matrix)
    assert [e["example_id"] for e in again] == [e["example_id"] for e in examples]


def test_chinese_notes_get_chinese_prompts():
    matrix = load_matrix()
    rec = {"patient_key": "pk-zh", "resources": [], "images": [], "disease_codes": ["I10"],
           "documents": [{"doc_id": "d1", "text": "患者高血压10年，否认糖尿病。", "language": "zh", "doc_type": "clinical_note",
                          "modality": "text", "source_kind": "text", "text_codes": ["I10"]}]}
    exs = [e for e in build_examples_for_record(rec, matrix) if e["builder"] == "note_to_diagnoses"]
    assert exs and all("请阅读" in e["messages"][0]["content"] and e["language"] == "zh" for e in exs)


def test_corruptions_are_recorded_and_change_the_answer():
    answer = "E11.9 - Type 2 diabetes mellitus without complications\nI10 - Essential (primary) hypertension"
    rec = {"resources": [{"resourceType": "Condition", "code": {"coding": [
        {"system": "http://snomed.info/sct", "code": "195662009", "display": "Acute viral pharyngitis (disorder)"}]}}]}
    kinds = set()
    for key in ("a", "b", "c", "d", "e", "f"):
        options = corruptions({"messages": [{}, {"content": answer}], "example_id": key, "language": "en"}, rec,
                              "note_to_diagnoses")
        assert options and all(v != answer for v in options.values())
        kinds |= set(options)
    assert kinds == {"sibling_code", "missed_diagnosis", "unsupported_diagnosis"}


def test_a_user_registered_builder_runs_for_its_task(tmp_path):
    @register_builder("always_one")
    def always_one(record, task, ctx):
        yield {"example_id": "x-" + record["patient_key"], "set": "sft", "patient_key": record["patient_key"],
               "language": "en", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}

    m = tmp_path / "m.yaml"
    m.write_text("version: t\ndiseases: []\nscenarios: [{id: s, name_en: S, name_zh: S, group: education, modalities: [text]}]\n"
                 "tasks: [{id: t1, disease: '*', scenario: s, builder: always_one, sets: [sft], annotation_level: fine,"
                 " quota: {min: 1, max: 1}, languages: [en]}]\n", encoding="utf-8")
    (ex,) = build_examples_for_record({"patient_key": "pk-1", "disease_codes": []}, load_matrix(str(m)))
    assert ex["task_id"] == "t1" and ex["annotation_level"] == "fine"


def test_matrix_validation_names_the_bad_key(tmp_path):
    m = tmp_path / "bad.yaml"
    m.write_text("diseases: [{id: d, icd10: [I10], colour: red}]\n", encoding="utf-8")
    with pytest.raises(MatrixError, match="unknown key 'colour'.*valid keys"):
        load_matrix(str(m))


def test_icd10_patterns_and_tiers():
    assert icd10_matches("I10-I15", "I11") and icd10_matches("E11.*", "E11.9") and icd10_matches("C34", "C34.90")
    assert not icd10_matches("C18-C20", "C21")
    assert classify(["I10"], load_matrix())["tier"] == "specialty"
    assert classify(["Z00"], load_matrix())["tier"] == "general"


def test_split_is_deterministic_keyed_and_close_to_the_ratio():
    keys = [f"pk-{i}" for i in range(2000)]
    fam = [split_family(k, b"s" * 16, {"evaluation": 0.2}) for k in keys]
    assert fam == [split_family(k, b"s" * 16, {"evaluation": 0.2}) for k in keys]
    assert 0.17 < fam.count("evaluation") / len(fam) < 0.23
    assert fam != [split_family(k, b"t" * 16, {"evaluation": 0.2}) for k in keys]
    assert leakage_check([("p1", "train"), ("p1", "evaluation"), ("p2", "train")]) == ["p1 in evaluation and training"]


def test_planted_benchmark_question_is_removed(tmp_path):
    q = "Which drug is first line for type 2 diabetes in a patient without contraindications and normal renal function?"
    bench = tmp_path / "medqa.jsonl"
    bench.write_text(json.dumps({"question": q, "options": {"A": "metformin"}, "answer": "A"}) + "\n", encoding="utf-8")
    (b,) = load_benchmarks([bench])
    train = [("doc-1", "Some clinic text. " + q + " More text follows here."), ("doc-2", "Unrelated guideline about asthma.")]
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        items = p | "T" >> beam.Create(train)
        refs = p | "R" >> beam.Create([(b["benchmark"], b["question"])])
        assert_that((items, refs) | Decontaminate(13, 20), equal_to([("doc-1", "medqa")]))


def test_short_texts_have_no_ngrams_unless_distinctive():
    assert ngram_keys("too short") == set()
    assert ngram_keys("eight words are just enough to match here", short_fallback=True)


def test_stratified_assignment_gives_each_stratum_its_share():
    from transforms.split.stage import stratified_families

    keys = [f"pk-{i}" for i in range(50)]
    fams = dict(stratified_families(("hypertension|fhir", keys), b"s" * 16, 0.2))
    assert sum(1 for f in fams.values() if f == "evaluation") == 10
    assert fams == dict(stratified_families(("hypertension|fhir", list(reversed(keys))), b"s" * 16, 0.2))
