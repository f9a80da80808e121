"""Text ingest: encodings, languages, JSONL/CSV shapes, bad inputs."""
from __future__ import annotations

import json

from transforms.io.text_parse import detect_language, fold_for_matching, iter_text_units


def _run(data: bytes, name: str, **kw):
    items = list(iter_text_units(data, f"text:{name}", **kw))
    return [i for i in items if not i.get("reject")], [i for i in items if i.get("reject")]


def test_gb18030_utf16_and_bom_files_decode_to_the_same_text():
    text = "患者男，67岁。高血压10年，否认糖尿病。"
    for enc, data in (("gb18030", text.encode("gb18030")), ("utf-16", text.encode("utf-16")),
                      ("utf-8-sig", text.encode("utf-8-sig"))):
        units, rejects = _run(data, "note.txt")
        assert not rejects, enc
        assert units[0]["text"] == text and units[0]["language"] == "zh", enc


def test_language_detection_handles_mixed_clinical_text():
    assert detect_language("Patient denies chest pain.")[0] == "en"
    assert detect_language("胸部CT示右肺结节，HbA1c 7.2%。")[0] == "zh"
    assert detect_language("BP 150/90, 患者诉头晕 dizziness since Monday")[0] in ("mixed", "zh")
    assert detect_language("12345 678")[0] == "other"


def test_full_width_digits_and_letters_fold_for_matching():
    assert fold_for_matching("ＨｂＡ１ｃ　７．２％") == "HbA1c 7.2%"


def test_jsonl_keeps_fields_and_rejects_only_broken_lines():
    lines = [json.dumps({"id": "a", "text": "hello world", "patient_id": "P1", "doc_type": "note"}),
             "{broken", json.dumps({"id": "b", "text": ""}), json.dumps({"id": "c", "text": "一份指南"})]
    units, rejects = _run("\n".join(lines).encode(), "docs.jsonl")
    assert [u["doc_id"] for u in units] == ["a", "c"]
    assert units[0]["patient_id"] == "P1" and units[1]["patient_id"] is None
    assert [(r["position"], r["error_kind"]) for r in rejects] == [("line 2", "invalid_json"), ("line 3", "missing_text")]


def test_csv_uses_the_configured_text_column():
    data = "id,body\n1,first note\n2,\n".encode()
    units, rejects = _run(data, "notes.csv", csv_text_column="body")
    assert [u["text"] for u in units] == ["first note"] and rejects[0]["position"] == "line 3"
    units, rejects = _run(data, "notes.csv")
    assert not units and rejects[0]["error_kind"] == "missing_text_column"


def test_binary_empty_and_oversize_files_are_rejected():
    assert _run(bytes(range(256)) * 8, "x.txt")[1][0]["error_kind"] == "undecodable_text"
    assert _run(b"", "x.txt")[1][0]["error_kind"] == "empty_file"
    assert _run(b"a" * 100, "x.txt", max_bytes=10)[1][0]["error_kind"] == "file_too_large"
