"""Red team of the routes around the text de-identifier, English and Chinese (issue 14 items 6-8, 10, 11).

One small build plants identifiers where no text recognizer looks: in input file and folder names,
in the absolute paths of the sources, in payload keys that strict FHIR validation rejects, and burned
into the pixels of images whose headers look harmless (an ultrasound relabelled CR; a Chinese
screen with name, record number, date and hospital). Every shareable file - splits, review,
rejected, manifest, audit log, data card, report, quality results and every file name - is then
scanned by this test's own plain substring search and OCR; all must find nothing, while the
restricted lineage must show that the planted inputs were read.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pydicom
import pytest

from pipelines.cli import main
from transforms.quality.leak_gate import scan_output, summary_line

SECRET = "side-channel-test-secret-8d2f6b1e9c4a"
EN = ["Quackenbush", "Zebulon", "MRN-CANARY-5541", "PT-CANARY-77"]
ZH = ["张伟", "ZY20230501", "北京协和"]
#: what the deid-data ultrasound shows in its pixels (a test patient of that package)
PIXELS_EN = ["ZZZDOWNTIME", "00047431395", "120907058", "CLEVELAND"]
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def _require_ocr_and_font():
    if shutil.which("tesseract") is None or not CJK_FONT.is_file():
        if os.environ.get("MEDCORPUS_REQUIRE_OCR"):
            pytest.fail("tesseract and fonts-wqy-microhei are required (MEDCORPUS_REQUIRE_OCR is set)")
        pytest.skip("Debian's tesseract-ocr / fonts-wqy-microhei are not installed (.ci/run installs them)")


def _relabelled_ultrasound(patient_id: str) -> pydicom.Dataset:
    import deid_data

    ds = pydicom.dcmread(Path(deid_data.__file__).resolve().parent / "data" / "ultrasounds" / "RGB_IMAGE.dcm")
    ds.Modality, ds.BurnedInAnnotation, ds.PatientID = "CR", "NO", patient_id
    return ds


def _chinese_screen(template: pydicom.Dataset, patient_id: str) -> pydicom.Dataset:
    from PIL import Image, ImageDraw, ImageFont
    from pydicom.uid import generate_uid

    img = Image.new("L", (800, 600), 0)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(CJK_FONT), 22)
    draw.text((12, 10), "姓名：张伟  住院号：ZY20230501", fill=255, font=font)
    draw.text((480, 10), "2023年05月01日 14:32", fill=255, font=font)
    draw.text((12, 560), "北京协和医院", fill=255, font=font)
    draw.ellipse((220, 150, 580, 480), fill=110)
    ds = template.copy()
    ds.set_pixel_data(np.array(img), "MONOCHROME2", 8, generate_instance_uid=False)
    ds.PatientID, ds.PatientName = patient_id, "Zhang^Wei"
    for attr, n in (("StudyInstanceUID", 1), ("SeriesInstanceUID", 2), ("SOPInstanceUID", 3)):
        setattr(ds, attr, generate_uid(entropy_srcs=["medcorpus side-channel test", str(n)]))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _write_inputs(root: Path) -> dict[str, Path]:
    fhir = root / "fhir"
    fhir.mkdir(parents=True)
    lines = [
        {"resourceType": "Patient", "id": "PT-CANARY-77", "gender": "male", "birthDate": "1960-04-02",
         "name": [{"family": "Quackenbush", "given": ["Zebulon"]}],
         "identifier": [{"system": "urn:mrn", "value": "MRN-CANARY-5541"}, {"system": "urn:zy", "value": "ZY20230501"}]},
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/PT-CANARY-77"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "59621000", "display": "Essential hypertension"}]},
         "onsetDateTime": "2019-03-14"},
        # strict mode rejects these; the payload's own keys (a name, a record number) must not be quoted
        {"resourceType": "Observation", "id": "o-bad", "status": "final", "code": {"text": "bp"},
         "subject": {"reference": "Patient/PT-CANARY-77"}, "Zebulon Quackenbush": "x", "MRN-CANARY-5541": 1},
        {"resourceType": "Observation", "id": "o-bad-zh", "status": "final", "code": {"text": "bp"},
         "subject": {"reference": "Patient/PT-CANARY-77"}, "张伟住院号ZY20230501": "x"},
    ]
    bundle = fhir / "Quackenbush_Zebulon_MRN-CANARY-5541.ndjson"
    bundle.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    dicom = root / "dicom"
    (dicom / "Quackenbush_US").mkdir(parents=True)
    (dicom / "张伟_ZY20230501").mkdir(parents=True)
    us = _relabelled_ultrasound("MRN-CANARY-5541")
    us.save_as(dicom / "Quackenbush_US" / "PT-CANARY-77_IM1.dcm", enforce_file_format=False)
    _chinese_screen(us, "ZY20230501").save_as(dicom / "张伟_ZY20230501" / "北京协和_CT1.dcm",
                                              enforce_file_format=False)
    text = root / "text" / "张伟_ZY20230501"
    text.mkdir(parents=True)
    (text / "note.jsonl").write_text(json.dumps({"id": "n1", "patient_id": "PT-CANARY-77", "language": "zh",
                                                 "text": "随访复查，血压控制良好，继续原方案治疗。"}, ensure_ascii=False)
                                      + "\n", encoding="utf-8")
    (text / "Quackenbush_empty.txt").write_bytes(b"")  # rejected: its name must not reach rejected/
    return {"bundle": bundle}


@pytest.fixture(scope="module")
def red_team(tmp_path_factory):
    _require_ocr_and_font()
    root = tmp_path_factory.mktemp("in")
    files = _write_inputs(root)
    config = root / "redteam.yaml"
    config.write_text("fhir:\n  mode: strict\nleak_gate:\n  ocr_images: true\n  canaries: "
                      + json.dumps(EN + ZH + PIXELS_EN, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("out") / "corpus"
    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        code = main(["build", "--config", str(config), "--source", f"fhir:{root / 'fhir'}",
                     "--source", f"dicom:{root / 'dicom'}", "--source", f"text:{root / 'text'}",
                     "--output", str(out), "--direct_running_mode", "in_memory"])
    finally:
        os.environ.pop("MEDCORPUS_SECRET", None)
    return root, out, code, files


def _shareable(out: Path) -> list[Path]:
    return [p for p in sorted(out.rglob("*")) if p.is_file() and p.relative_to(out).parts[0] not in ("lineage", "cache")]


def _blob(path: Path) -> str:
    if path.suffix == ".parquet":
        return json.dumps(pq.read_table(path).to_pylist(), default=lambda b: "", ensure_ascii=False)
    return path.read_bytes().decode("utf-8", errors="replace")


def _ocr(png: bytes) -> str:
    import pytesseract
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    img = img.resize((img.width * 2, img.height * 2))
    return pytesseract.image_to_string(img, lang="eng+chi_sim", config="--psm 11")


def test_no_planted_identifier_reaches_any_shareable_file_or_file_name(red_team):
    root, out, code, _ = red_team
    assert code == 0  # the build's own leak gate (with OCR) passed
    files = _shareable(out)
    assert {"manifest.json", "audit.json", "DATA_CARD.md"} <= {p.name for p in files}
    assert (out / "report" / "index.html").is_file() and any(p.parts[-2] == "rejected" for p in files)
    for path in files:
        rel = path.relative_to(out).as_posix()
        blob = _blob(path).casefold()
        for canary in EN + ZH + PIXELS_EN + [str(root), str(root.resolve())]:
            assert canary.casefold() not in rel.casefold(), f"{canary!r} in the file name {rel}"
            assert canary.casefold() not in blob, f"{canary!r} leaked into {rel}"
        for name in ("Quackenbush_Zebulon", "PT-CANARY-77_IM1", "note.jsonl", "Quackenbush_empty.txt", "CT1.dcm"):
            assert name.casefold() not in blob, f"input file name {name!r} in {rel}"


def test_burned_in_text_is_redacted_in_the_released_images(red_team):
    _, out, _, _ = red_team
    rows = [r for r in pq.read_table(out / "pretraining_images").to_pylist() if r["modality"] == "image"]
    assert len(rows) == 2, "both images are released (redacted), not quarantined"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["deid"]["images"].get("pixel_text_redacted:redact_all_text") == 2
    for row in rows:
        text = _ocr(row["image"]["bytes"])
        found = [c for c in EN + ZH + PIXELS_EN + ["4/14/2020", "2023年", "医院"] if c.casefold() in text.casefold()]
        assert found == []


def test_rejected_rows_name_files_by_pseudonym_and_quote_no_payload_key(red_team):
    _, out, _, _ = red_team
    rejected = pq.read_table(out / "rejected").to_pylist()
    kinds = {r["error_kind"] for r in rejected}
    assert {"invalid_resource", "empty_file"} <= kinds
    assert all(r["source"].split(":", 1)[1].startswith("src-") for r in rejected)
    strict = [r["message"] for r in rejected if r["error_kind"] == "invalid_resource"]
    assert len(strict) == 2 and all("(unknown element): extra_forbidden" in m for m in strict)
    # the mapping back to the real names lives only in the restricted lineage/sources
    sources = pq.read_table(out / "lineage" / "sources").to_pylist()
    by_id = {s["source_id"]: s["source"] for s in sources}
    assert {by_id[r["source"]] for r in rejected} == {"fhir:Quackenbush_Zebulon_MRN-CANARY-5541.ndjson",
                                                       "text:张伟_ZY20230501/Quackenbush_empty.txt"}
    audit = json.loads((out / "audit.json").read_text())
    assert {i["source_id"] for i in audit["inputs"]} == set(by_id)


def test_forget_by_source_scrubs_the_file_from_audit_and_lineage(red_team, tmp_path):
    _, built, _, files = red_team
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    source = "fhir:" + files["bundle"].name
    sid = next(s["source_id"] for s in pq.read_table(out / "lineage" / "sources").to_pylist() if s["source"] == source)
    assert sid in (out / "audit.json").read_text()
    assert main(["forget", str(out), "--source", source]) == 0
    audit = json.loads((out / "audit.json").read_text())
    assert sid not in json.dumps(audit["inputs"]) and audit["forget"][-1]["audit_inputs_removed"] >= 1
    assert all(s["source"] != source for s in pq.read_table(out / "lineage" / "sources").to_pylist())
    assert sid not in json.dumps(pq.read_table(out / "rejected").to_pylist())
    for path in out.rglob("*"):  # lineage included: nothing of the patient's files is left anywhere
        if path.is_file():
            assert "Quackenbush_Zebulon" not in _blob(path), path


def test_the_gate_fails_the_build_on_a_planted_canary_it_finds(red_team, tmp_path):
    """A canary that does reach the corpus (a word of the note) makes the gate fail: rows are counted."""
    from pipelines.validate_command import run_leak_gate

    _, built, _, _ = red_team
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    assert run_leak_gate(out, {"canaries": ["血压控制良好"], "patterns": {}, "roots": []}) is False
    result = json.loads((out / "quality" / "leak_scan.json").read_text())
    assert result["tables"]["pretraining"]["rows_with_hits"] >= 1 and "血压控制良好" not in json.dumps(result)
    assert "Residual identifiers or planted canaries found" in (out / "report" / "index.html").read_text()


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def test_the_gate_counts_leaking_rows_per_table_not_one_per_split(tmp_path):
    out = tmp_path / "corpus"
    (out / "pretraining").mkdir(parents=True)
    (out / "sft").mkdir()
    (out / "lineage" / "sources").mkdir(parents=True)
    pre = [{"id": f"d-{i}", "text": f"Seen on 2020-01-0{i % 9 + 1}. " + ("SSN 219-09-9999." if i < 7 else "Stable.")}
           for i in range(10)]
    sft = [{"id": f"x-{i}", "messages": [{"role": "user", "content": "Summarise."},
                                         {"role": "assistant", "content": "Call 13912345678." if i < 2 else "Fine."}]}
           for i in range(5)]
    pq.write_table(_table(pre), out / "pretraining" / "part-00000-of-00001.parquet")
    pq.write_table(_table(sft), out / "sft" / "part-00000-of-00001.parquet")
    (out / "DATA_CARD.md").write_text("# Data card\n\nsource: `Quackenbush_MRN-CANARY-5541.json`\n", encoding="utf-8")
    (out / "Quackenbush.txt").write_text("nothing\n", encoding="utf-8")
    # the restricted lineage holds names by design and is not scanned
    pq.write_table(_table([{"source": "fhir:Quackenbush.json"}]), out / "lineage" / "sources" / "p.parquet")
    result = scan_output(out, canaries=["Quackenbush"])
    assert not result["ok"]
    assert result["tables"]["pretraining"]["rows_with_hits"] == 7 and result["tables"]["sft"]["rows_with_hits"] == 2
    assert result["rows_with_hits"] == 9 and result["tables"]["pretraining"]["hits"] == {"ssn": 7}
    assert result["files_with_hits"]["DATA_CARD.md"]["lines_with_hits"] == 1
    assert result["file_names_with_hits"] == {"canary": 1}
    line = summary_line(result)
    assert "pretraining 7 of 10 rows" in line and "sft 2 of 5 rows" in line
    assert "219-09-9999" not in json.dumps(result) and "Quackenbush" not in json.dumps(result)


def test_strict_validation_messages_never_quote_payload_keys_or_values():
    from transforms.io.fhir_parse import iter_fhir_units

    planted = {"resourceType": "Patient", "id": "p1", "Zebulon Quackenbush": "MRN-CANARY-5541",
               "张伟住院号ZY20230501": 1, "birthDate": "219-09-9999",
               "name": [{"family": "Quackenbush", "MRN-CANARY-5541": "x", "given": {"张伟": 1}}]}
    units = list(iter_fhir_units(json.dumps(planted, ensure_ascii=False).encode(), "fhir:x.json",
                                 fhir_version="R4", mode="strict", max_bytes=10**6))
    assert len(units) == 1 and units[0]["reject"] and units[0]["error_kind"] == "invalid_resource"
    message = units[0]["message"]
    assert "extra_forbidden" in message and "(unknown element)" in message
    for value in EN + ZH + ["219-09-9999", "Zebulon Quackenbush"]:
        assert value.casefold() not in message.casefold(), value


def test_the_report_embeds_images_only_when_asked(red_team, tmp_path):
    _, built, _, _ = red_team
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    thumb = "<img alt='de-identified image' src='data:image/png;base64,"
    assert thumb not in (out / "report" / "index.html").read_text(encoding="utf-8")
    assert main(["report", str(out), "--thumbnails"]) == 0
    assert (out / "report" / "index.html").read_text(encoding="utf-8").count(thumb) == 2
    assert main(["report", str(out)]) == 0  # a plain rewrite drops them again
    assert thumb not in (out / "report" / "index.html").read_text(encoding="utf-8")


def test_the_gate_does_not_mistake_uuids_and_hashes_for_phone_numbers():
    """The report carries plotly's random div ids (uuid4) and the manifest sha256 hashes: hex runs such as
    ``a043-8958597b`` once read as a Chinese landline and failed one build in a few hundred."""
    import hashlib
    import random
    import uuid

    from transforms.quality.leak_scan import scan_text

    rng = random.Random(14)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20000)]
    blob = "\n".join(f'<div id="{u}"></div> "{hashlib.sha256(u.encode()).hexdigest()}"' for u in ids)
    assert scan_text(blob) == []
    assert [h["kind"] for h in scan_text("电话010-65123456, SSN 123-45-6789, (617) 555-2368")] == \
        ["ssn", "us_phone", "cn_landline"]
