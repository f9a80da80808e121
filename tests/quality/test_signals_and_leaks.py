"""Quality signals, per-doc-type decisions, review overrides, and the independent leak scanner."""
from __future__ import annotations

import json

from transforms.quality.leak_scan import scan_text
from transforms.quality.signals import apply_review_overrides, decide, load_review_overrides, text_signals


def test_short_clinical_note_is_kept_but_short_guideline_is_dropped():
    note = "BP 150/90. HR 88.\nNo chest pain.\nContinue amlodipine 5 mg."
    s = text_signals(note, "en", "clinical_note")
    assert decide(s, "clinical_note")[0] is True
    assert decide(s, "document") == (False, "quality:min_chars", False)


def test_mojibake_and_replacement_characters_are_counted():
    s = text_signals("PatientÃ© name â€” \ufffd\ufffd", "en", "default")
    assert s["mojibake"] >= 2 and s["replacement_chars"] == 2


def test_repeated_lines_are_measured():
    s = text_signals("same line\n" * 10 + "other", "en", "default")
    assert s["dup_line_frac"] > 0.8


def test_reviewed_decisions_override_the_automatic_one(tmp_path):
    f = tmp_path / "reviewed.jsonl"
    f.write_text(json.dumps({"id": "d1", "decision": "drop", "reviewer": "r1"}) + "\n", encoding="utf-8")
    overrides = load_review_overrides(f)
    assert apply_review_overrides("d1", (True, "review:min_chars", True), overrides) == (False, "review_override_drop", False)
    assert apply_review_overrides("d2", (True, None, False), overrides) == (True, None, False)


def test_leak_scanner_finds_real_identifiers_and_ignores_reserved_surrogates():
    assert {h["kind"] for h in scan_text("SSN 123-45-6789, call 13812345678 or 010-65123456, a@b.com")} == \
        {"ssn", "cn_mobile", "cn_landline", "email"}
    assert scan_text("SSN 933-28-1305, call 10938084746 or 000-69884824, 555-555-0142, user1@example.org") == []
    assert scan_text("HbA1c 7.2%, glucose 5.5 mmol/L, BP 120/80, dose 500 mg bid, 2019-02-21") == []


def test_canaries_are_found():
    assert scan_text("text with CANARY-7731 inside", canaries=["CANARY-7731"])[0]["kind"] == "canary"


def test_record_signals_score_completeness_and_flag_time_travel():
    from transforms.quality.signals import record_signals

    patient = {"resourceType": "Patient", "gender": "female", "birthDate": "1980-01-01"}
    enc = {"resourceType": "Encounter", "status": "finished", "class": {}, "subject": {"reference": "Patient/p"},
           "type": [{"text": "visit"}], "period": {"start": "2020-01-02T10:00:00Z", "end": "2020-01-01T09:00:00Z"}}
    cond = {"resourceType": "Condition", "code": {"text": "x"}, "subject": {}, "onsetDateTime": "1970-05-05"}
    obs = [{"unit": "mg/dL", "ucum_valid": True, "flags": ["implausible"]}, {"unit": "furlongs", "ucum_valid": False,
                                                                            "flags": []}]
    s = record_signals([patient, enc, cond], obs, {"SNOMED-CT.invalid": 2, "LOINC.valid": 5})
    assert s["timeliness_flags"] == 2  # the inverted period and the condition before birth
    assert s["invalid_units"] == 1 and s["implausible_values"] == 1 and s["invalid_codes"] == 2
    assert 0.5 < s["record_completeness"] < 1.0  # Encounter class is empty, Condition lacks clinicalStatus


def test_a_period_across_a_daylight_saving_change_is_not_inverted():
    from transforms.quality.signals import record_signals

    enc = {"resourceType": "Encounter", "period": {"start": "2022-11-06T01:52:06-04:00", "end": "2022-11-06T01:07:06-05:00"}}
    assert record_signals([enc])["timeliness_flags"] == 0
