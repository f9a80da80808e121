"""Training-grade task content (issue 16): labels, cells, pairs, references, languages, units.

Records are built inside the tests (small FHIR resources in the de-identified record shape) or read
from the bundled Synthea sample; nothing here runs a pipeline except the two small Beam stages.
"""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from transforms.tasks import build_examples_for_document, build_examples_for_record
from transforms.tasks.labs import result_status
from transforms.tasks.preference import corruptions, familiar_codes, lab_corruptions, sibling_code
from transforms.terminology.stage import text_codes
from transforms.tiering.matrix import load_matrix

SNOMED = "http://snomed.info/sct"


def cond(cid, snomed, display, enc="e1", onset="2021-03-01", ended=None):
    r = {"resourceType": "Condition", "id": cid, "code": {"coding": [{"system": SNOMED, "code": snomed,
                                                                     "display": display}]},
         "encounter": {"reference": f"Encounter/{enc}"}, "onsetDateTime": onset}
    if ended:
        r["abatementDateTime"] = ended
    return r


def obs(oid, loinc, value, unit, date="2021-03-01", enc="e1", **extra):
    return {"resourceType": "Observation", "id": oid, "effectiveDateTime": date, "encounter": {"reference": f"Encounter/{enc}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": loinc}]},
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}, **extra}


def med(mid, display, reason, enc="e1", date="2021-03-01"):
    return {"resourceType": "MedicationRequest", "id": mid, "authoredOn": date, "encounter": {"reference": f"Encounter/{enc}"},
            "medicationCodeableConcept": {"coding": [{"display": display}]},
            "reasonReference": [{"reference": f"Condition/{reason}"}]}


def encounter(eid, start, klass="AMB", kind="Encounter for problem (procedure)"):
    return {"resourceType": "Encounter", "id": eid, "class": {"code": klass}, "period": {"start": start},
            "type": [{"coding": [{"display": kind}]}]}


PATIENT = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1960-05-01"}


def record(resources, documents=(), codes=None):
    return {"patient_key": "pk-test", "resources": [PATIENT, *resources], "documents": list(documents),
            "images": [], "disease_codes": codes or []}


def note(doc_id, text, language="en", encounter_ref=None, date="2021-03-01"):
    return {"doc_id": doc_id, "text": text, "language": language, "doc_type": "clinical_note", "modality": "text",
            "source_kind": "fhir" if encounter_ref else "text", "encounter": encounter_ref, "date": date,
            "text_codes": text_codes(text, language)}


def only(task_id, rec):
    return [e for e in build_examples_for_record(rec, load_matrix()) if e["task_id"] == task_id]


# ----------------------------------------------------------------------------- units and ranges
def test_glucose_in_mmol_per_litre_is_converted_before_the_range_is_read():
    status, reference = result_status("2339-0", 6.4, "mmol/L", {})
    assert status == "high" and "mg/dL" in reference  # 6.4 mmol/L = 115 mg/dL, above 70-99 mg/dL


def test_the_records_own_reference_range_wins_and_is_read_in_its_unit():
    rr = {"referenceRange": [{"low": {"value": 3.9, "unit": "mmol/L"}, "high": {"value": 7.0, "unit": "mmol/L"}}]}
    assert result_status("2339-0", 6.4, "mmol/L", rr)[0] == "normal"
    assert result_status("2339-0", 115.3, "mg/dL", rr)[0] == "normal"  # 115.3 mg/dL = 6.4 mmol/L
    assert result_status("2339-0", 140, "mg/dL", rr)[0] == "high"


def test_an_unconvertible_unit_is_left_out_rather_than_compared():
    assert result_status("2339-0", 6.4, "mL/min", {}) is None


# ----------------------------------------------------------------------------- labels
def test_text_labels_only_when_the_patient_has_it_now_en_and_zh():
    zh = note("d-zh", "家族史：母亲患高血压。筛查肺癌。否认糖尿病。诊断：抑郁症。", "zh")
    en = note("d-en", "- depression screening (procedure)\nMother has hypertension.\nAssessment: atrial fibrillation.")
    exs = only("dx_coding", record([], [zh, en]))
    answers = {e["language"]: e["messages"][-1]["content"] for e in exs}
    assert answers == {"zh": "F32 - 抑郁症", "en": "I48 - Atrial fibrillation and flutter"}


def test_social_and_administrative_findings_are_never_diagnoses():
    rec = record([encounter("e1", "2021-03-01"), cond("c1", "73438004", "Unemployed (finding)"),
                  cond("c2", "444814009", "Viral sinusitis (disorder)")],
                 [note("d1", "Patient is presenting with viral sinusitis (disorder).", encounter_ref="Encounter/e1")])
    (ex,) = only("dx_coding", rec)
    assert ex["messages"][-1]["content"] == "J01.90 - Acute sinusitis, unspecified"


# ----------------------------------------------------------------------------- cells
def test_a_disease_task_keeps_only_examples_whose_answer_is_about_its_disease():
    rec = record([], [note("d1", "Assessment: ischemic stroke.", date="2021-01-01"),
                      note("d2", "Assessment: acute sinusitis.", date="2021-02-01")], codes=["I63", "J01"])
    stroke = only("stroke_dx_coding", rec)
    assert [e["messages"][-1]["content"] for e in stroke] == ["I63 - Cerebral infarction"]
    assert all(e["disease_ids"] == ["stroke"] for e in stroke)
    general = only("dx_coding", rec)
    assert sorted(tuple(e["disease_ids"]) for e in general) == [("acute_respiratory_infection",), ("stroke",)]


# ----------------------------------------------------------------------------- preference pairs
def test_a_sibling_code_carries_its_own_correct_name():
    import simple_icd_10_cm as cm

    rec = record([])
    options = corruptions({"messages": [{}, {"content": "E11.9 - Type 2 diabetes mellitus without complications"}],
                           "example_id": "x-1", "language": "en"}, rec, "note_to_diagnoses")
    code, name = options["sibling_code"].split(" - ", 1)
    assert code != "E11.9" and code.startswith("E11") and name == cm.get_description(code)
    zh = sibling_code("J01.90", "x-2", "zh")
    assert zh and not zh.startswith("J01")


def test_a_sibling_code_is_one_answers_are_also_written_in_and_reads_like_the_original():
    # J02.9's siblings are J02.0 (a mapped, familiar code) and J02.8: the familiar one is the near miss,
    # so a wrong code is also a right answer elsewhere and cannot be told by the code alone
    assert "J02.0" in familiar_codes() and "J02.8" not in familiar_codes()
    assert {sibling_code("J02.9", f"k{i}", "en") for i in range(20)} == {"J02.0"}
    # among familiar siblings, the one whose name shares most words: E11.9 (without complications) ->
    # another familiar type 2 diabetes code, never a code of another category
    picks = {sibling_code("E11.9", f"k{i}", "en") for i in range(20)}
    assert picks and all(p.startswith("E11.") and p in familiar_codes() for p in picks)


def test_a_missed_diagnosis_and_an_unsupported_one_are_offered_together():
    rec = record([cond("c1", "195662009", "Acute viral pharyngitis (disorder)")])
    one = {"messages": [{}, {"content": "I10 - Essential (primary) hypertension"}], "language": "en"}
    two = {"messages": [{}, {"content": "E11.9 - Type 2 diabetes mellitus without complications\n"
                                        "I10 - Essential (primary) hypertension"}], "language": "en"}
    for i in range(10):
        options_one = corruptions({**one, "example_id": f"k{i}"}, rec, "note_to_diagnoses")
        kinds_two = set(corruptions({**two, "example_id": f"k{i}"}, rec, "note_to_diagnoses"))
        # one line: the record's other diagnosis given instead, as long as the answer, never a line added
        assert "missed_diagnosis" not in options_one
        assert options_one["unsupported_diagnosis"] == "J02.9 - Acute pharyngitis, unspecified"
        assert {"missed_diagnosis", "unsupported_diagnosis"} <= kinds_two


def test_a_wrong_lab_call_is_as_often_normal_as_abnormal():
    answer = "\n".join(["- Glucose: 6.4 mmol/L (high; reference 3.9–5.5 mmol/L)",
                        "- Heart rate: 95 /min (normal; reference 60–100 /min)",
                        "- Respiratory rate: 13 /min (normal; reference 12–20 /min)",
                        "- Systolic blood pressure: 131 mmHg (high; reference 90–119 mmHg)"])
    wrong_normal = wrong_abnormal = 0
    for i in range(200):
        rejected = lab_corruptions(answer, f"k{i}", "en")["wrong_lab_direction"]
        changed = [(a, b) for a, b in zip(answer.splitlines(), rejected.splitlines()) if a != b]
        assert len(changed) == 1
        before, after = changed[0]
        if "(normal" in after:
            wrong_normal += 1
            assert "(high" in before
        else:  # a normal result called abnormal in the panel's direction, on the side it lies nearer
            wrong_abnormal += 1
            assert after.startswith("- Heart rate: 95 /min (high")
    assert 80 <= wrong_normal <= 120 and wrong_normal + wrong_abnormal == 200


def test_near_misses_come_from_the_record_and_the_terminology():
    rec = record([encounter("e1", "2021-03-01"), cond("c1", "59621000", "Essential hypertension (disorder)"),
                  cond("c2", "44054006", "Diabetes mellitus type 2 (disorder)"),
                  med("m1", "lisinopril 10 MG Oral Tablet", "c1"), med("m2", "24 HR Metformin hydrochloride 500 MG", "c2"),
                  obs("o1", "2339-0", 6.4, "mmol/L"), obs("o2", "4548-4", 7.9, "%"), obs("o3", "8867-4", 72, "/min")])
    pairs = only("medication_review_pairs", rec) + only("lab_interpretation_pairs", rec)
    kinds = {e["corruption"] for e in pairs}
    assert kinds and kinds <= {"wrong_indication", "same_class_drug", "wrong_lab_direction"}
    for e in pairs:
        assert e["chosen"] != e["rejected"] and len(e["chosen"].splitlines()) == len(e["rejected"].splitlines())
        assert "No " not in e["rejected"] and "否认" not in e["rejected"]
    lab = next(e for e in pairs if e["corruption"] == "wrong_lab_direction" and e["language"] == "en")
    assert "Glucose: 6.4 mmol/L (high" in lab["chosen"]


# ----------------------------------------------------------------------------- evaluation references
def test_discharge_reference_is_not_in_its_prompt_and_its_facts_are():
    rec = record([encounter("e1", "2021-03-01"), cond("c1", "59621000", "Essential hypertension (disorder)"),
                  med("m1", "lisinopril 10 MG Oral Tablet", "c1"), obs("o1", "2339-0", 6.4, "mmol/L"),
                  obs("o2", "4548-4", 7.9, "%"), obs("o3", "8867-4", 72, "/min")])
    (ex,) = [e for e in only("discharge_summary", rec) if e["language"] == "en"]
    prompt, ref = ex["messages"][0]["content"], ex["reference"]
    assert "I10 - Essential (primary) hypertension" in ref and "I10" not in prompt
    assert "lisinopril 10 MG Oral Tablet" in prompt and "Glucose: 6.4 mmol/L" in prompt
    assert "Glucose: 6.4 mmol/L (high" in ref


def test_guideline_cloze_answers_are_not_in_the_question():
    doc = {"doc_id": "g1", "patient_key": None, "language": "en", "doc_type": "document", "modality": "text",
           "text": "# Hypertension\n\nHypertension is diagnosed at or above 140/90 mmHg in the office. "
                   "Drug treatment starts with a thiazide-like diuretic or an ACE inhibitor."}
    exs = build_examples_for_document(doc, load_matrix())
    assert exs
    for e in exs:
        q, a = e["messages"][0]["content"], e["messages"][-1]["content"]
        assert "____" in q and a.lower() not in q.lower()


# ----------------------------------------------------------------------------- languages
def test_structured_builders_write_chinese_where_every_name_has_a_chinese_form():
    rec = record([encounter("e0", "2019-01-01"), encounter("e1", "2021-03-01", "EMER"),
                  cond("c1", "59621000", "Essential hypertension (disorder)", enc="e0", onset="2019-01-01"),
                  cond("c2", "195662009", "Acute viral pharyngitis (disorder)"),
                  med("m1", "lisinopril 10 MG Oral Tablet", "c1"), obs("o1", "2339-0", 6.4, "mmol/L"),
                  obs("o2", "4548-4", 7.9, "%"), obs("o3", "8867-4", 72, "/min")], codes=["I10", "J02"])
    langs = {}
    for e in build_examples_for_record(rec, load_matrix()):
        langs.setdefault(e["builder"], set()).add(e["language"])
    for builder in ("lab_interpretation", "medication_review", "record_summary", "triage", "consultation",
                    "discharge_summary"):
        assert langs.get(builder) == {"en", "zh"}, builder
    zh = next(e for e in build_examples_for_record(rec, load_matrix()) if e["builder"] == "triage" and e["language"] == "zh")
    assert "急诊" in zh["messages"][-1]["content"] and "耳鼻咽喉科" in zh["messages"][-1]["content"]


def test_report_impressions_in_english_and_chinese_fill_the_lung_nodule_cell():
    en = {**note("r1", "CT chest without contrast. Findings: a 7 mm solid pulmonary nodule in the right lower lobe. "
                       "Impression: indeterminate lung nodule; recommend follow-up CT in 6 months."), "doc_type": "report"}
    zh = {**note("r2", "胸部CT平扫：右肺上叶见一直径约8mm磨玻璃结节。印象：右肺上叶磨玻璃结节，建议3个月后复查胸部CT。报告医师：某某。",
                 "zh"), "doc_type": "report"}
    exs = only("lung_nodule_ct_impression", record([], [en, zh], codes=["R91"]))
    assert {e["language"] for e in exs} == {"en", "zh"}
    for e in exs:
        assert "R91" in e["messages"][-1]["content"] and e["disease_ids"] == ["lung_nodule"]
        assert "报告医师" not in e["messages"][-1]["content"]


# ----------------------------------------------------------------------------- Beam stages
def test_boilerplate_lines_are_cut_from_pretraining_text():
    from transforms.quality.boilerplate import StripBoilerplate

    docs = [{"doc_id": f"d{i}", "modality": "text", "language": "en", "source_kind": "fhir",
             "text": f"# Allergies\nNo Known Allergies.\nPatient {i} has a distinct finding number {i}."} for i in range(30)]
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = p | beam.Create(docs) | StripBoilerplate({"boilerplate": {"min_doc_share": 0.1, "min_docs": 5}})
        assert_that(out["documents"] | beam.Map(lambda d: d["text"]),
                    equal_to([f"# Allergies\nPatient {i} has a distinct finding number {i}." for i in range(30)]))


def test_example_dedup_keeps_one_and_prefers_the_disease_task():
    from transforms.tasks.dedup import DedupExamples

    class Ctx:
        config = {"dedup": {"threshold": 0.8}}

    msg = [{"role": "user", "content": "Read the note. Assessment: ischemic stroke, left side weakness since today."},
           {"role": "assistant", "content": "I63 - Cerebral infarction"}]
    exs = [{"example_id": "x-a", "task_id": "dx_coding", "set": "sft", "messages": msg, "specific": False},
           {"example_id": "x-b", "task_id": "stroke_dx_coding", "set": "sft", "messages": msg, "specific": True},
           {"example_id": "x-c", "task_id": "dx_coding_pairs", "set": "preference", "prompt": msg[0]["content"],
            "chosen": "I63 - Cerebral infarction", "rejected": "I61 - Nontraumatic intracerebral hemorrhage"}]
    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = p | beam.Create(exs) | DedupExamples(Ctx())
        assert_that(out["examples"] | beam.Map(lambda e: e["task_id"]), equal_to(["stroke_dx_coding", "dx_coding_pairs"]))


def test_a_repeated_result_does_not_break_the_chronic_review():
    """Two Observations alike in date, value and unit (a resent result): the review orders them by
    content instead of comparing FHIR resources (a TypeError that lost the patient's examples)."""
    rec = record([encounter("e1", "2021-03-01"), cond("c1", "44054006", "Diabetes mellitus type 2 (disorder)"),
                  obs("o1", "4548-4", 7.9, "%", date="2021-03-01"), obs("o2", "4548-4", 7.9, "%", date="2021-03-01"),
                  obs("o3", "4548-4", 7.1, "%", date="2020-09-01")], codes=["E11.9"])
    (ex, *_) = only("diabetes_control_review", rec)
    assert ex["answer_codes"] == ["E11.9"] and "7.9" in ex["messages"][-1]["content"]
    assert only("diabetes_control_review", rec) == only("diabetes_control_review", rec)
