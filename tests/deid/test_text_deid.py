"""Text de-identification: Chinese and English identifiers, known PHI, surrogates, date shifts."""
from __future__ import annotations

import pytest

from transforms.deid.text import TextDeidentifier, known_phi_from_patient_resource
from transforms.deid.text.dates import shift_date_text
from transforms.deid.text.recognizers import cn_id_check_char, cn_id_checksum_ok
from transforms.quality.leak_scan import scan_text

SECRET = b"test-secret-0123456789"


@pytest.fixture(scope="module")
def deid():
    return TextDeidentifier({}, SECRET)


def _cn_id(first17: str) -> str:
    return first17 + cn_id_check_char(first17)


def test_resident_id_with_valid_checksum_is_replaced_by_a_surrogate(deid):
    real = _cn_id("11010519580312001")
    out, counts = deid.deidentify(f"身份证号{real}，复诊。", language="zh", date_shift_days=10)
    assert real not in out and counts.get("CN_RESIDENT_ID") == 1
    surrogate = out[4:22]
    assert cn_id_checksum_ok(surrogate) and surrogate.startswith("99")  # reserved, detectably synthetic


def test_resident_id_with_bad_checksum_is_not_treated_as_an_id(deid):
    real = _cn_id("11010519580312001")
    bad = real[:-1] + ("0" if real[-1] != "0" else "1")
    _, counts = deid.deidentify(f"编号{bad}", language="zh", date_shift_days=10)
    assert "CN_RESIDENT_ID" not in counts


def test_chinese_note_phi_is_removed_and_clinical_content_kept(deid):
    note = ("患者王小明，男，67岁，手机13812345678，病案号：A2019-00321，住址：北京市朝阳区建国路88号1203室。"
            "2019年2月21日于北京协和医院就诊。否认高血压，口服二甲双胍0.5g bid。主治医师：李建国。电话010-65123456。")
    out, counts = deid.deidentify(note, language="zh", date_shift_days=30)
    for phi in ("王小明", "13812345678", "A2019-00321", "建国路88号", "2019年2月21日", "北京协和医院", "李建国", "65123456"):
        assert phi not in out, phi
    for kept in ("否认高血压", "二甲双胍0.5g bid", "67岁"):
        assert kept in out, kept
    assert "2019年3月23日" in out  # shifted by 30 days, same format
    assert not scan_text(out)


def test_english_identifiers_dates_and_ages_over_89(deid):
    note = ("Seen on Feb 21, 2019 and 2/21/2019. MRN: 88231-A. SSN 123-45-6789. Dr. John Carter at Riverside "
            "Medical Center, 42 Elm Street. Parkinson disease. Age 93 years. Call 555-301-2211, john@mail.com.")
    out, counts = deid.deidentify(note, language="en", date_shift_days=30)
    for phi in ("Feb 21, 2019", "2/21/2019", "88231-A", "123-45-6789", "John Carter", "Riverside Medical Center",
                "42 Elm Street", "93 years", "555-301-2211", "john@mail.com"):
        assert phi not in out, phi
    assert "Mar 23, 2019" in out and "3/23/2019" in out and "90+ years" in out
    assert "Parkinson disease" in out  # eponym on the clinical allow-list
    assert not scan_text(out)


def test_known_phi_is_found_in_all_surface_forms(deid):
    patient = {"resourceType": "Patient", "name": [{"family": "Bogan287", "given": ["Florencio463"]}],
               "identifier": [{"value": "S99976748"}], "telecom": [{"system": "phone", "value": "555-445-6801"}],
               "address": [{"line": ["570 Weissnat Ville Apt 55"], "city": "Riverside"}], "birthDate": "1999-06-29"}
    known = known_phi_from_patient_resource(patient)
    note = ("Florencio463 Bogan287 (florencio, BOGAN, F. Bogan) licence S99976748 lives at 570 Weissnat Ville Apt 55 "
            "in Riverside; call 5554456801.")
    out, _ = deid.deidentify(note, language="en", date_shift_days=5, known=known)
    for phi in ("Florencio", "florencio", "Bogan", "BOGAN", "S99976748", "570 Weissnat", "Riverside", "5554456801"):
        assert phi not in out, phi


def test_same_value_gets_the_same_surrogate_and_another_secret_another(deid):
    a, _ = deid.deidentify("患者张伟来诊。", language="zh", date_shift_days=1)
    b, _ = deid.deidentify("患者张伟来诊。", language="zh", date_shift_days=1)
    c, _ = TextDeidentifier({}, b"another-secret-0123456").deidentify("患者张伟来诊。", language="zh", date_shift_days=1)
    assert a == b and "张伟" not in a
    assert isinstance(c, str)


@pytest.mark.parametrize("value,days,expected", [
    ("2/21/2019", 10, "3/3/2019"), ("2019-02-21", -21, "2019-01-31"), ("Feb 21, 2019", 7, "Feb 28, 2019"),
    ("21st of February", 1, "22nd of February"), ("2019年2月21日", 10, "2019年3月3日"), ("2019.2.21", 365, "2020.2.21"),
    ("二〇一九年二月二十一日", 1, "二〇一九年二月二十二日"), ("today", 3, None)])
def test_dates_shift_in_their_own_format(value, days, expected):
    assert shift_date_text(value, days) == expected


def test_tags_mode_writes_entity_tags():
    out, _ = TextDeidentifier({"mode": "tags"}, SECRET).deidentify("SSN 123-45-6789", language="en", date_shift_days=0)
    assert "<US_SSN" in out and "123-45-6789" not in out


def test_batched_deidentification_equals_one_text_at_a_time(deid, shared_data):
    """spaCy over a batch (nlp.pipe) must find exactly what it finds text by text, mixed Chinese too."""
    import base64
    import gzip
    import json

    texts = []
    for f in sorted((shared_data / "fhir" / "synthea-california").glob("*.json.gz"))[:3]:
        for e in json.loads(gzip.decompress(f.read_bytes()))["entry"]:
            for c in e["resource"].get("content", []):
                texts.append((base64.b64decode(c["attachment"]["data"]).decode("utf-8"), "en"))
    texts = list(dict.fromkeys(texts))[:40]
    texts += [("患者王小明，男，67岁，2019年2月21日于北京协和医院就诊，诊断 Type 2 diabetes (John Smith)。", "mixed"),
              ("患者李建国，手机13812345678。", "zh"), ("", "en")]
    items = [(t, lang, 11, None) for t, lang in texts]
    one_by_one = [deid.deidentify(t, language=lang, date_shift_days=11) for t, lang in texts]
    batched = deid.deidentify_many(items, batch_size=16)
    assert batched == one_by_one
    assert sum(1 for (before, _), (after, _) in zip(texts, batched) if before != after) >= 20
