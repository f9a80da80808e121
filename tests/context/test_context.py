"""Clinical context rules (transforms/context): one test per rule family, in English and Chinese.

A label may come from text only when the context says the patient has the concept now.
"""
from __future__ import annotations

import pytest

from transforms.terminology.concepts import tag_concepts
from transforms.terminology.stage import text_codes


def context_of(text: str, code: str) -> tuple[list[str], bool]:
    (m,) = [m for m in tag_concepts(text) if m["code"] == code]
    return m["context"], m["current"]


@pytest.mark.parametrize("text,code", [
    ("Patient denies hypertension.", "I10"),
    ("No evidence of stroke on MRI.", "I63"),
    ("Negative for atrial fibrillation.", "I48"),
    ("Chest CT: lung nodule ruled out.", "R91"),
    ("Lung nodule was ruled out.", "R91"),
    ("否认高血压。", "I10"),
    ("胸部CT未见肺结节。", "R91"),
    ("排除脑卒中。", "I63"),
    ("房颤阴性。", "I48"),
])
def test_negated_mentions_are_not_current(text, code):
    ctx, current = context_of(text, code)
    assert "NEGATED" in ctx and not current


@pytest.mark.parametrize("text,code", [
    ("Possible pneumonia versus asthma.", "J45"),
    ("Suspected lung cancer, biopsy pending.", "C34"),
    ("Rule out stroke.", "I63"),
    ("疑似肺癌。", "C34"),
    ("肺癌待排。", "C34"),
    ("考虑为脑梗死可能。", "I63"),
])
def test_uncertain_mentions_are_not_current(text, code):
    ctx, current = context_of(text, code)
    assert "POSSIBLE" in ctx and not current


@pytest.mark.parametrize("text,code", [
    ("Mother has hypertension.", "I10"),
    ("Family history: father with type 2 diabetes.", "E11"),
    ("His sister died of lung cancer.", "C34"),
    ("家族史：母亲患高血压。", "I10"),
    ("有2型糖尿病家族史。", "E11"),
    ("父亲患肺癌。", "C34"),
])
def test_family_mentions_are_not_the_patients(text, code):
    ctx, current = context_of(text, code)
    assert "FAMILY" in ctx and not current


@pytest.mark.parametrize("text,code", [
    ("Return if signs of stroke appear.", "I63"),
    ("If hypertension develops, call the clinic.", "I10"),
    ("Discussed the risk of atrial fibrillation.", "I48"),
    ("如出现房颤请及时就诊。", "I48"),
    ("警惕脑卒中。", "I63"),
    ("脑卒中的风险。", "I63"),
])
def test_hypothetical_mentions_are_not_current(text, code):
    ctx, current = context_of(text, code)
    assert "HYPOTHETICAL" in ctx and not current


@pytest.mark.parametrize("text,code", [
    ("- depression screening (procedure)", "F32"),
    ("Screening for lung cancer today.", "C34"),
    ("Stroke prevention counselling.", "I63"),
    ("- lifestyle education regarding hypertension (procedure)", "I10"),
    ("- hyperlipidemia clinical management plan (record artifact)", "E78"),
    ("肺癌筛查。", "C34"),
    ("预防脑卒中。", "I63"),
    ("抑郁症评估。", "F32"),
])
def test_screening_and_procedures_are_not_diagnoses(text, code):
    ctx, current = context_of(text, code)
    assert "SCREENING" in ctx and not current


@pytest.mark.parametrize("text,code,current", [
    ("History of hypertension.", "I10", True),          # chronic: still present
    ("Patient has a history of chronic kidney disease stage 1 (disorder).", "N18", True),
    ("History of depression.", "F32", False),            # an episode in the past
    ("Patient has a history of acute bronchitis (disorder).", "J20", False),
    ("既往高血压病史5年。", "I10", True),
    ("既往房颤病史。", "I48", True),
    ("既往有脑梗死病史。", "I63", False),
    ("既往史：抑郁症。", "F32", False),
])
def test_history_means_now_only_for_chronic_conditions(text, code, current):
    ctx, now = context_of(text, code)
    assert "HISTORICAL" in ctx and now is current


@pytest.mark.parametrize("text,code", [
    ("No fever but hypertension is poorly controlled.", "I10"),
    ("Denies chest pain; atrial fibrillation on ECG.", "I48"),
    ("否认胸痛，但心电图示房颤。", "I48"),
    ("否认高血压，2型糖尿病10年。", "E11"),
])
def test_terminators_and_clause_breaks_end_a_cue_scope(text, code):
    ctx, current = context_of(text, code)
    assert ctx == [] and current


@pytest.mark.parametrize("text,code", [
    ("No increase in the size of the lung nodule.", "R91"),
    ("Social history: lives alone. Hypertension well controlled.", "I10"),
    ("无明显诱因出现房颤。", "I48"),
])
def test_pseudo_cues_do_not_trigger(text, code):
    ctx, current = context_of(text, code)
    assert "NEGATED" not in ctx and "HISTORICAL" not in ctx and current


@pytest.mark.parametrize("text,code", [
    ("Patient is presenting with essential hypertension (disorder).", "I10"),
    ("Impression: indeterminate lung nodule; recommend follow-up CT in 6 months.", "R91"),
    ("诊断：抑郁症（中度）。", "F32"),
    ("心电图示心房颤动，心室率112次/分。", "I48"),
])
def test_affirmed_mentions_are_current(text, code):
    assert context_of(text, code) == ([], True)


def test_a_family_section_ends_at_the_next_header():
    text = "Family history:\nMother: hypertension.\n\nAssessment:\nType 2 diabetes mellitus."
    assert text_codes(text, "en") == ["E11"]


def test_a_note_yields_only_what_the_patient_has_now():
    zh = "家族史：母亲患高血压。既往房颤病史。否认糖尿病。筛查肺癌。诊断：抑郁症。"
    assert text_codes(zh, "zh") == ["F32", "I48"]
    en = ("- depression screening (procedure)\nScreening for lung cancer.\nMother has hypertension.\n"
          "Patient is presenting with prediabetes (finding).")
    assert text_codes(en, "en") == ["R73"]
