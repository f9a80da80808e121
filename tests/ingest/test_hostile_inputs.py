"""Hostile and odd inputs at the reader level: one reject per broken unit, limits, encodings, ids.

Every input is generated here (no committed files). The end-to-end runs of the same cases through
``medcorpus build`` and ``medcorpus deid`` are in tests/pipeline/test_hostile_inputs_end_to_end.py.
"""
from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile

import pytest

from transforms.io.archive import gunzip, zip_members
from transforms.io.decode import decode_bytes
from transforms.io.dicom_read import iter_dicom_units
from transforms.io.fhir_parse import iter_fhir_units, read_fhir, rebuild
from transforms.io.fhir_refs import patient_link
from transforms.io.limits import LimitExceeded, Limits
from transforms.io.text_parse import iter_text_units

MARK = "ZZPHI"  # raw values carry this marker; no reject message may quote it


def _fhir(data, **kw):
    items = list(iter_fhir_units(data, "fhir:t", **kw))
    units = [i for i in items if not i.get("reject")]
    rejects = [(i["position"], i["error_kind"]) for i in items if i.get("reject")]
    assert not any(MARK in i["message"] for i in items if i.get("reject")), "a reject quotes a raw value"
    return units, rejects


def _text(data, name, **kw):
    items = list(iter_text_units(data, f"text:{name}", **kw))
    assert not any(MARK in i["message"] for i in items if i.get("reject")), "a reject quotes a raw value"
    return [i for i in items if not i.get("reject")], [(i["position"], i["error_kind"]) for i in items if i.get("reject")]


def _ndjson(*objs) -> bytes:
    return b"\n".join(json.dumps(o).encode() if not isinstance(o, bytes) else o for o in objs) + b"\n"


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"}


def _bundle(n: int) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:p{i}", "resource": {**PATIENT, "id": f"p{i}", "name": [{"family": MARK, "given": ["A"]}]}}
        for i in range(n)]}


# -- one reject per broken unit ---------------------------------------------------------------------
def test_truncated_pretty_printed_bundle_is_one_reject_not_one_per_line():
    text = json.dumps(_bundle(40), indent=2)
    assert text.count("\n") > 300
    units, rejects = _fhir(text[: len(text) // 2].encode())
    assert not units and rejects == [("file", "invalid_json")]


def test_ndjson_line_that_is_an_array_is_rejected_alone():
    units, rejects = _fhir(_ndjson([1, 2], PATIENT, "just a string"))
    assert [u["resource"]["id"] for u in units] == ["p1"]
    assert rejects == [("line 1", "invalid_json"), ("line 3", "invalid_json")]


def test_a_json_array_file_is_one_reject():
    units, rejects = _fhir(json.dumps([PATIENT, PATIENT]).encode())
    assert not units and rejects == [("file", "not_fhir_json")]


def test_bundle_entry_that_is_a_string_is_rejected_alone():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [MARK, 7, {"resource": PATIENT}]}
    units, rejects = _fhir(json.dumps(bundle).encode())
    assert [u["resource"]["id"] for u in units] == ["p1"]
    assert rejects == [("entry 0", "invalid_entry"), ("entry 1", "invalid_entry")]


def deep_extension(levels: int) -> str:
    """A Patient whose extension nests ``levels`` deep, as JSON text (json.dumps itself would recurse)."""
    inner = '{"url": "http://x", "valueString": "%s"}' % MARK
    ext = '{"url": "http://x", "extension": [' * levels + inner + "]}" * levels
    return '{"resourceType": "Patient", "id": "deep", "extension": [%s]}' % ext


def test_480_level_nested_extension_rejects_only_its_resource():
    units, rejects = _fhir(_ndjson(deep_extension(480).encode(), PATIENT))
    assert [u["resource"]["id"] for u in units] == ["p1"] and rejects == [("line 1", "too_deeply_nested")]


# -- type-robust ids and references ---------------------------------------------------------------
@pytest.mark.parametrize("bad_id,kind", [({"v": MARK}, "invalid_id"), ([MARK], "invalid_id"), (True, "invalid_id"),
                                         (1.5, "invalid_id")])
def test_patient_id_of_the_wrong_json_type_is_rejected_per_resource(bad_id, kind):
    units, rejects = _fhir(_ndjson({**PATIENT, "id": bad_id}, PATIENT))
    assert [u["resource"]["id"] for u in units] == ["p1"] and rejects == [("line 1", kind)]


def test_numeric_ids_are_normalised_to_strings_and_link():
    obs = {"resourceType": "Observation", "id": 7, "status": "final", "code": {"text": "x"},
           "subject": {"reference": "Patient/123"}}
    units, rejects = _fhir(_ndjson({**PATIENT, "id": 123, "identifier": [{"value": 4567}]}, obs))
    assert not rejects
    assert [(u["resource"]["id"], u["patient_ref"]) for u in units] == [("123", "123"), ("7", "123")]
    assert not any(v.startswith("id:") for v in units[0]["validation"])  # normalised before validation


@pytest.mark.parametrize("subject,kind", [
    (f"Patient/{MARK}", "invalid_patient_reference"),           # a string, not a Reference object
    ({"reference": 42}, "invalid_patient_reference"),
    ({"reference": ""}, "invalid_patient_reference"),
    ({"display": MARK}, "unlinkable_patient_reference"),      # display only
    ({"identifier": {"value": MARK}}, "unlinkable_patient_reference"),
    ({"reference": f"urn:uuid:{MARK}"}, "unresolved_patient_reference"),  # not in its bundle
])
def test_malformed_subject_is_rejected_not_counted_as_a_reference_resource(subject, kind):
    obs = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}, "subject": subject}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:p1", "resource": PATIENT}, {"fullUrl": "urn:uuid:o1", "resource": obs}]}
    units, rejects = _fhir(json.dumps(bundle).encode())
    assert [u["resource"]["id"] for u in units] == ["p1"] and rejects == [("entry 1", kind)]


def test_references_to_groups_and_reference_resources_are_not_rejects():
    obs = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
           "subject": {"reference": "Group/g1"}}
    assert patient_link(obs) == (None, None)
    assert patient_link({"resourceType": "Organization", "id": "x"}) == (None, None)
    assert patient_link({"resourceType": "Patient"})[1][0] == "missing_patient_id"
    assert patient_link({"resourceType": "Patient"}, {}, "urn:uuid:abc") == ("abc", None)


# -- limits ------------------------------------------------------------------------------------------
def test_note_over_the_limit_rejects_its_resource_not_its_patient():
    limits = Limits(max_note_chars=1000)
    big = base64.b64encode(("Note " + MARK + " ").encode() * 200).decode()
    doc = {"resourceType": "DocumentReference", "id": "d1", "status": "current", "subject": {"reference": "Patient/p1"},
           "content": [{"attachment": {"contentType": "text/plain", "data": big}}]}
    small = {**doc, "id": "d2", "content": [{"attachment": {"contentType": "text/plain",
                                                            "data": base64.b64encode(b"short").decode()}}]}
    image = {**doc, "id": "d3", "content": [{"attachment": {"contentType": "image/png", "data": big * 3}}]}
    units, rejects = _fhir(_ndjson(PATIENT, doc, small, image), limits=limits)
    assert [u["resource"]["id"] for u in units] == ["p1", "d2", "d3"] and rejects == [("line 2", "text_too_long")]


def test_spacy_sized_notes_pass_under_the_default_limit_and_longer_ones_are_rejected_alone():
    ok, too_long = "a" * 1_000_000, "a" * 1_000_001
    units, rejects = _text(_ndjson({"id": "1", "text": ok}, {"id": "2", "text": too_long}), "n.jsonl")
    assert [u["doc_id"] for u in units] == ["1"] and rejects == [("line 2", "text_too_long")]


def test_bundle_over_the_entry_limit_is_one_reject():
    units, rejects = _fhir(json.dumps(_bundle(6)).encode(), limits=Limits(max_bundle_entries=5))
    assert not units and rejects == [("file", "too_many_entries")]
    units, rejects = _fhir(json.dumps(_bundle(5)).encode(), limits=Limits(max_bundle_entries=5))
    assert len(units) == 5 and not rejects


def test_csv_cell_over_131072_characters_no_longer_rejects_the_whole_csv():
    big = "x" * 140_000
    data = f"id,text,comment\n1,first note,{big}\n2,second note,ok\n".encode()
    units, rejects = _text(data, "notes.csv")
    assert [u["doc_id"] for u in units] == ["1", "2"] and not rejects
    units, rejects = _text(data, "notes.csv", limits=Limits(max_csv_cell_chars=100_000))
    assert [u["doc_id"] for u in units] == ["2"] and rejects == [("line 2", "csv_cell_too_large")]


def test_gzip_bomb_is_one_reject_by_ratio_and_by_size():
    bomb = gzip.compress(b"\0" * (8 << 20), 9)  # 8 MB of zeros in about 8 KB
    with pytest.raises(LimitExceeded) as exc:
        gunzip(bomb, Limits())
    assert exc.value.kind == "compression_ratio_exceeded"
    with pytest.raises(LimitExceeded) as exc:
        gunzip(bomb, Limits(max_compression_ratio=1e9, max_decompressed_mb=2))
    assert exc.value.kind == "archive_too_large"
    units, rejects = _fhir(bomb)
    assert not units and rejects == [("file", "compression_ratio_exceeded")]
    units, rejects = _text(bomb, "notes.txt.gz")
    assert not units and rejects == [("file", "compression_ratio_exceeded")]


def test_multi_member_gzip_and_normal_compression_still_read():
    data = gzip.compress(_ndjson(PATIENT)) + gzip.compress(_ndjson({**PATIENT, "id": "p2"}))
    assert gunzip(data, Limits()) == _ndjson(PATIENT) + _ndjson({**PATIENT, "id": "p2"})
    units, rejects = _fhir(data)
    assert [u["resource"]["id"] for u in units] == ["p1", "p2"] and not rejects


def test_zip_bomb_of_dicom_is_one_reject_with_bounded_reads():
    from pydicom.data import get_testdata_file

    good = open(get_testdata_file("CT_small.dcm"), "rb").read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("a/IM1", good)
        for i in range(4):
            zf.writestr(f"b/IM{i}", good[:132] + b"\0" * (4 << 20))
    items = list(iter_dicom_units(buf.getvalue(), "dicom:bomb.zip", Limits()))
    assert [(i["position"], i["error_kind"]) for i in items] == [("file", "compression_ratio_exceeded")]
    with pytest.raises(LimitExceeded):
        zip_members(buf.getvalue(), Limits(max_compression_ratio=1e9, max_decompressed_mb=4))
    assert len(zip_members(buf.getvalue(), Limits(max_compression_ratio=1e9))) == 5


def test_limits_come_from_config_with_defaults_for_missing_keys():
    limits = Limits.from_config({"limits": {"max_file_mb": 10, "max_note_chars": "500"}})
    assert limits.max_file_bytes == 10 << 20 and limits.max_note_chars == 500
    assert limits.max_compression_ratio == 200 and limits.max_json_depth == 64
    import yaml

    from pipelines.config import DEFAULT_CONFIG

    shipped = Limits.from_config(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    assert shipped == Limits()  # the YAML defaults and the code defaults agree


# -- encodings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "gb18030"])
def test_fhir_json_and_ndjson_in_any_encoding_are_decoded_not_rejected(encoding):
    patient = {**PATIENT, "name": [{"family": "张", "given": ["伟"]}]}
    for data in (json.dumps(patient, ensure_ascii=False), _ndjson(patient, {**patient, "id": "p2"}).decode()):
        units, rejects = _fhir(data.encode(encoding))
        assert not rejects, encoding
        assert units[0]["resource"]["name"][0]["family"] == "张"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32", "gb18030"])
def test_jsonl_and_csv_notes_in_any_encoding_are_decoded(encoding):
    notes = ["患者男，67岁。高血压10年。", "Patient denies chest pain."]
    units, rejects = _text("\n".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False)
                                     for i, t in enumerate(notes)).encode(encoding), "n.jsonl")
    assert not rejects and [u["text"] for u in units] == notes
    csv_data = ("id,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(notes))).encode(encoding)
    units, rejects = _text(csv_data, "n.csv")
    assert not rejects and [u["text"] for u in units] == notes


def test_one_invalid_utf8_byte_does_not_reject_a_jsonl_file():
    lines = [json.dumps({"id": str(i), "text": f"第{i}份记录：患者咳嗽三天，无发热。"}, ensure_ascii=False).encode()
             for i in range(5)]
    lines[2] = lines[2].replace("咳嗽".encode(), b"\xff\xfe")  # one damaged byte pair in one note
    decoded = decode_bytes(b"\n".join(lines))
    assert decoded.encoding == "utf-8" and decoded.replaced >= 1
    units, rejects = _text(b"\n".join(lines), "notes.jsonl")
    assert not rejects and len(units) == 5
    assert "\ufffd" in units[2]["text"] and units[0]["text"] == "第0份记录：患者咳嗽三天，无发热。"


def test_fields_of_the_wrong_json_type_reject_only_their_jsonl_line():
    lines = [{"id": "1", "text": "fine"}, {"id": {"x": MARK}, "text": "bad id"},
             {"id": "3", "text": "bad pid", "patient_id": [MARK]}, {"id": "4", "text": "bad type", "doc_type": {"a": 1}},
             {"id": 5, "text": "numeric id", "patient_id": 77}]
    units, rejects = _text(_ndjson(*lines), "n.jsonl")
    assert [(u["doc_id"], u["patient_id"]) for u in units] == [("1", None), ("5", "77")]
    assert rejects == [("line 2", "invalid_id"), ("line 3", "invalid_patient_id"), ("line 4", "invalid_field_type")]


def test_pretty_printed_json_given_as_jsonl_is_one_reject():
    data = json.dumps([{"id": "1", "text": "a"}, {"id": "2", "text": "b"}], indent=2).encode()
    assert _text(data, "n.jsonl") == ([], [("file", "invalid_json")])


# -- deid rebuilds files from the same parse ------------------------------------------------------------
def test_rebuild_keeps_good_entries_and_drops_rejected_ones():
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": PATIENT}, MARK, {"resource": {**PATIENT, "id": {"x": 1}}},
        {"request": {"method": "DELETE", "url": "Patient/9"}}]}
    parsed = read_fhir(json.dumps(bundle).encode(), "fhir:b.json")
    good = {u["position"]: {**u["resource"], "id": "new"} for u in parsed.items if not u.get("reject")}
    out = json.loads(rebuild(parsed, good))
    assert [e.get("resource", {}).get("id") for e in out["entry"]] == ["new", None]
    parsed = read_fhir(_ndjson(PATIENT, [1], {**PATIENT, "id": "p2"}), "fhir:x.ndjson")
    good = {u["position"]: u["resource"] for u in parsed.items if not u.get("reject")}
    assert [json.loads(line)["id"] for line in rebuild(parsed, good).splitlines()] == ["p1", "p2"]


# -- listing: symlinks, files reached twice, sources that share relative paths --------------------------
def test_links_outside_the_source_root_are_rejects_and_inside_ones_are_read(tmp_path):
    import os

    from transforms.io.listing import list_source

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "a.txt").write_text("inside")
    (outside / "b.txt").write_text("outside " + MARK)
    os.symlink(outside / "b.txt", root / "out_file.txt")
    os.symlink(outside, root / "out_dir")
    os.symlink(root / "sub" / "a.txt", root / "in_file.txt")
    os.symlink(root / "sub", root / "in_dir")
    os.symlink(tmp_path / "missing", root / "broken.txt")
    files = list_source({"kind": "text", "pattern": str(root / "**"), "root": str(root)})
    got = {f["source"]: (f.get("reject") or [None])[0] for f in files}
    assert got == {"text:sub/a.txt": None, "text:in_file.txt": None, "text:out_file.txt": "symlink_outside_root",
                   "text:out_dir": "symlink_outside_root", "text:broken.txt": "broken_symlink"}
    keys = {f["source"]: f["key"] for f in files}
    assert keys["text:in_file.txt"] == keys["text:sub/a.txt"]  # the same file: read once (ListFiles)
    assert not any(MARK in str(f) for f in files)


def test_sources_holding_the_same_relative_path_are_labelled_by_their_folders(tmp_path):
    from pipelines.sources import disambiguate, make_source

    for site in ("siteA", "siteB", "other"):
        (tmp_path / site).mkdir()
    (tmp_path / "siteA" / "notes.txt").write_text("a")
    (tmp_path / "siteB" / "notes.txt").write_text("b")
    (tmp_path / "other" / "x.txt").write_text("c")
    sources = [make_source("text", str(tmp_path / d)) for d in ("siteA", "siteB", "other", "siteA")]
    out = disambiguate(sources)
    assert [(s.label, s.order) for s in out] == [("siteA", 0), ("siteB", 1), ("", 2)]  # the repeat is dropped
    single = disambiguate([make_source("text", str(tmp_path / "siteA" / "notes.txt")),
                           make_source("text", str(tmp_path / "siteB" / "notes.txt"))])
    assert [s.label for s in single] == ["siteA", "siteB"]
    same_file = disambiguate([make_source("text", str(tmp_path / "siteA")),
                              make_source("text", str(tmp_path / "siteA" / "notes.txt"))])
    assert [s.label for s in same_file] == ["", ""]  # one file twice is no clash: it is read once


def test_a_resource_that_breaks_structural_deid_is_set_aside_alone():
    from transforms.deid.isolate import deidentify_isolating, first_that_works

    resources = [{"id": "a"}, {"id": "explodes"}, {"id": "b"}]

    def deid(rs):  # fails whenever the bad resource is in the batch, as a walk bug on one shape would
        if any(r["id"] == "explodes" for r in rs):
            raise ValueError(MARK)
        return [{"id": r["id"].upper()} for r in rs], {"n": len(rs)}

    out, counts, kept, bad = deidentify_isolating(resources, deid)
    assert out == [{"id": "A"}, {"id": "B"}] and counts == {"n": 2} and kept == [0, 2] and bad == [(1, "ValueError")]
    assert deidentify_isolating([{"id": "explodes"}], deid)[2:] == ([], [(0, "ValueError")])

    def fails_only_together(rs):
        if len(rs) > 1:
            raise ValueError("only together")
        return rs, {}

    with pytest.raises(ValueError):  # nothing fails alone: not isolable, the caller rejects the patient
        deidentify_isolating([{"id": "a"}, {"id": "b"}], fails_only_together)
    assert first_that_works(lambda: 1 / 0, lambda: "fallback") == "fallback" and first_that_works(lambda: 1 / 0) is None


def test_known_phi_is_still_read_from_a_malformed_patient():
    from transforms.deid.isolate import patient_shape_for_known_phi
    from transforms.deid.text import known_phi_from_patient_resource

    weird = {**PATIENT, "name": {"family": "Quimby", "given": "Ann"}, "identifier": "MRN-778899",
             "telecom": "555-123-4567", "address": {"line": "1 Main St", "city": "Townsville"}}
    known = known_phi_from_patient_resource(patient_shape_for_known_phi(weird))
    assert "Ann Quimby" in known.names and "MRN-778899" in known.ids and "1 Main St" in known.addresses
    assert "5551234567" in known.phones


def test_a_limit_that_is_not_a_positive_number_is_a_user_error(tmp_path):
    from pipelines.config import load_config
    from pipelines.errors import UserError

    cfg = tmp_path / "c.yaml"
    for bad in ("0", "-5", "lots", "true"):
        cfg.write_text(f"limits:\n  max_note_chars: {bad}\n")
        with pytest.raises(UserError, match="limits.max_note_chars must be a positive number"):
            load_config(str(cfg))
    cfg.write_text("limits:\n  max_note_chars: 5000\n")
    assert Limits.from_config(load_config(str(cfg))).max_note_chars == 5000
