"""`medcorpus deid` runs the independent leak gate over every file it wrote (issue 14): text-like
files by line (gzipped ones unpacked), DICOM by every string element (nested sequences too), every
file name; the input file names and roots are canaries. Counts only, never a matched value."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from pipelines.cli import main
from transforms.quality.leak_files import scan_files

CANARY = "Quillfeather-Canary"
SECRET = "deid-leak-gate-secret-7f3a9c21e4b8d605"


def _dicom(path: Path, *, nested: str = "", uid: str = "") -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    if nested:
        item = Dataset()
        item.TextValue = f"impression: {nested}"
        outer = Dataset()
        outer.ContentSequence = Sequence([item])
        ds.ContentSequence = Sequence([outer])
    if uid:
        ds.SOPInstanceUID = uid
    ds.save_as(path)


def test_scan_finds_canaries_in_gzipped_text_nested_dicom_text_and_file_names(tmp_path):
    out = tmp_path / "out"
    (out / "a1").mkdir(parents=True)
    (out / "a1" / "f.ndjson.gz").write_bytes(gzip.compress(b'{"a": 1}\n{"note": "seen by quillfeather-canary"}\n'))
    _dicom(out / "a1" / "nested.dcm", nested=CANARY)
    (out / "a1" / "Smith_MRN20931847.txt").write_text("nothing here\n")  # an input stem kept as a name
    result = scan_files(out, inputs=["text:site/Smith_MRN20931847.txt"], canaries=[CANARY])
    assert not result["ok"] and result["dicom_files"] == 1
    hits = result["files_with_hits"]
    assert hits["a1/f.ndjson.gz"]["lines_with_hits"] == 1 and hits["a1/f.ndjson.gz"]["hits"] == {"canary": 1}
    assert hits["a1/nested.dcm"]["elements_with_hits"] == 1
    assert result["file_names_with_hits"] == {"canary": 1}  # the input stem (its folder differs)
    assert CANARY.lower() not in json.dumps(result).lower() and "Smith" not in json.dumps(result)


def test_keyed_uids_generic_file_names_and_pydicom_dicom_are_not_false_alarms(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # a README among the inputs cites other inputs by their generic names (as pydicom's test files do)
    (out / "readme.txt").write_text("CT_small.dcm: a small CT; JPEG2000.dcm: J2K; see IM0001\n")
    inputs = ["dicom:CT_small.dcm", "dicom:JPEG2000.dcm", "dicom:study01/IM0001", "text:README.txt"]
    # a keyed UID whose digits hold a run shaped like a Chinese mobile number or resident ID
    _dicom(out / "u.dcm", uid="2.25.13812345678.110101199003074514")
    _dicom(out / "plain.dcm")
    # a DICOM without preamble and file meta (deid keeps the input's encoding) is read, not "unreadable"
    (out / "raw.dcm").write_bytes(Path(get_testdata_file("no_meta.dcm")).read_bytes())
    result = scan_files(out, inputs=inputs, roots=["/data/hospital/pacs"])
    assert result["ok"] and result["dicom_files"] == 3, result
    (out / "cites.txt").write_text("prior: Smith_MRN20931847.dcm\n")  # a name that carries an identifier
    assert not scan_files(out, inputs=inputs + ["dicom:Smith_MRN20931847.dcm"])["ok"]
    (out / "cites.txt").unlink()
    _dicom(out / "named.dcm", uid="2.25.120931847")  # a canary still counts inside a UID
    assert not scan_files(out, canaries=["20931847"])["ok"]


def test_a_planted_canary_that_deid_keeps_fails_the_run_with_one_line_and_counts_only(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    # a drug name is clinical text the de-identifier rightly keeps: as a planted canary it must be found
    (src / "notes.jsonl").write_text(json.dumps({"id": "n1", "text": "Started on metoprololzine 25 mg daily."}) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("leak_gate:\n  canaries: [metoprololzine]\n")
    out = tmp_path / "out"
    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        code = main(["deid", str(src), "--output", str(out), "--config", str(cfg), "--direct_running_mode=in_memory"])
        err = capsys.readouterr().err
        assert code == 1
        assert [l for l in err.splitlines() if "leak gate FAILED" in l][0].startswith("medcorpus: error: leak gate")
        summary = json.loads((out / "deid_summary.json").read_text())
        assert summary["leak_gate"]["files_with_hits"] and summary["leak_gate"]["canaries"]["planted"] == 1
        assert "metoprololzine" not in (out / "deid_summary.json").read_text() + err
    finally:
        os.environ.pop("MEDCORPUS_SECRET", None)
