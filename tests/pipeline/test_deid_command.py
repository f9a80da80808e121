"""`medcorpus deid`: de-identified copies in their own formats; kinds recognised by content."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil

import pydicom
import pytest

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR


@pytest.fixture(scope="module")
def deid_out(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    shutil.copytree(SAMPLE_DIR / "fhir" / "synthea", src / "fhir")
    shutil.copytree(SAMPLE_DIR / "dicom", src / "pacs")
    shutil.copytree(SAMPLE_DIR / "text", src / "notes")
    out = tmp_path_factory.mktemp("out") / "deid"
    os.environ["MEDCORPUS_SECRET"] = "deid-test-secret-0123456789"
    try:
        assert main(["deid", str(src), "--output", str(out), "--direct_running_mode=in_memory"]) == 0
    finally:
        os.environ.pop("MEDCORPUS_SECRET", None)
    return src, out


def test_outputs_keep_formats_and_layout_under_keyed_names(deid_out):
    src, out = deid_out
    bundles = sorted(out.rglob("*.json.gz"))
    assert len(bundles) == 14 and len({b.parent for b in bundles}) == 1  # one folder, as in the input
    doc = json.loads(gzip.decompress(bundles[0].read_bytes()))
    assert doc["resourceType"] == "Bundle" and doc["entry"]
    jsonl = sorted(out.rglob("*.jsonl"))
    original = (src / "notes" / "notes_zh.jsonl").read_text(encoding="utf-8").splitlines()
    lines = next(p for p in jsonl if len(p.read_text(encoding="utf-8").splitlines()) == len(original)
                 and "患者" in p.read_text(encoding="utf-8")).read_text(encoding="utf-8").splitlines()
    ids = [json.loads(l)["id"] for l in lines]
    assert ids == [json.loads(l)["id"] for l in original]  # note ids that carry no identifier are kept (policy)
    dicoms = [p for p in out.rglob("*.dcm")]
    assert dicoms and all(pydicom.dcmread(p).PatientIdentityRemoved == "YES" for p in dicoms)
    assert not {p.name for p in out.rglob("*")} & {p.name for p in src.rglob("*")} - {"deid_summary.json"}
    assert not any(part in str(p.relative_to(out)) for p in out.rglob("*") for part in
                   ("IM000", "study0", "synthea", "notes", "fhir", "pacs", "guidelines"))  # no input name is kept


def test_no_patient_identifier_survives_in_any_output(deid_out):
    src, out = deid_out
    blob = ""
    for p in out.rglob("*"):
        if p.is_file() and p.name != "deid_summary.json":
            data = p.read_bytes()
            blob += (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8", "ignore")
    blob = blob.lower()
    for f in sorted((src / "fhir").glob("*.json.gz")):
        patient = next(e["resource"] for e in json.loads(gzip.decompress(f.read_bytes()))["entry"]
                       if e["resource"]["resourceType"] == "Patient")
        values = [p for n in patient["name"] for p in n.get("given", []) + [n["family"]]]
        values += [re.sub(r"\d+$", "", v) for v in values if len(re.sub(r"\d+$", "", v)) >= 4]
        values += [i["value"] for i in patient["identifier"]] + [t["value"] for t in patient.get("telecom", [])]
        values += [l for a in patient.get("address", []) for l in a.get("line", [])] + [patient["birthDate"]]
        for v in values:
            assert not re.search(rf"(?<![a-z0-9]){re.escape(v.lower())}(?![a-z0-9])", blob), "identifier survived"
    for phi in ("13812345678", "张伟", "江苏省南京市鼓楼区中山路128号"):
        assert phi.lower() not in blob


def test_summary_has_counts_and_no_phi(deid_out):
    _, out = deid_out
    summary = json.loads((out / "deid_summary.json").read_text())
    assert summary["counts"]["files:written"] > 20 and summary["counts"]["files:quarantined"] == 1
    # the leak gate read every written file (DICOM included) and raised no false alarm on the sample
    gate = summary["leak_gate"]
    assert gate["ok"] and gate["files_scanned"] == sum(1 for p in out.rglob("*") if p.is_file())
    # every Synthea bundle is named after its patient's UUID: those names are canaries
    assert gate["dicom_files"] >= 1 and gate["canaries"]["input_names"] >= 14 and gate["canaries"]["roots"] == 1
    assert all(re.fullmatch(r"[a-z_:0-9A-Z\-]+", k) for k in summary["counts"])


def test_deid_without_secret_fails_before_writing(tmp_path):
    os.environ.pop("MEDCORPUS_SECRET", None)
    assert main(["deid", str(SAMPLE_DIR / "text"), "--output", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
