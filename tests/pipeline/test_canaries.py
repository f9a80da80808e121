"""Canary values planted in the input never reach any written split (independent leak scan)."""
from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR
from schemas.tables import SPLITS
from transforms.write.rows import content_text
from transforms.quality.leak_scan import scan_text

CANARIES = ["219-09-9999", "13900001234", "Zebulon Quackenbush", "MRN-CANARY-5541"]


def test_planted_canaries_are_not_in_any_output(tmp_path, monkeypatch):
    src = tmp_path / "text"
    shutil.copytree(SAMPLE_DIR / "text" / "guidelines", src)
    note = {"id": "c1", "patient_id": "PT-CANARY", "language": "en", "doc_type": "clinical_note",
            "text": "Zebulon Quackenbush (MRN: MRN-CANARY-5541, SSN 219-09-9999) called from 13900001234 about "
                    "his hypertension. Mr. Quackenbush takes lisinopril 10 mg daily. Seen 3/14/2021."}
    (src / "canary.jsonl").write_text(json.dumps(note) + "\n", encoding="utf-8")
    monkeypatch.setenv("MEDCORPUS_SECRET", "canary-test-secret-0123456789")
    out = tmp_path / "out"
    assert main(["build", "--source", f"text:{src}", "--source", f"fhir:{SAMPLE_DIR / 'fhir' / 'synthea'}",
                 "--output", str(out), "--direct_running_mode", "in_memory"]) == 0
    hits = 0
    texts = 0
    carried = 0  # the canary note itself must be in the corpus, or the test proves nothing
    for split in SPLITS:
        for f in (out / split).glob("*.parquet"):
            for row in pq.read_table(f).to_pylist():
                for value in [content_text(row.get(k)) for k in ("text", "prompt", "chosen", "rejected", "reference")] + \
                        [m["content"] for m in row.get("messages") or []]:
                    if value:
                        texts += 1
                        carried += "takes lisinopril 10 mg daily" in value
                        hits += len(scan_text(value, canaries=CANARIES + ["Quackenbush"]))
    assert texts > 50 and carried >= 1 and hits == 0
    # nor anywhere else in the output: lineage, rejected, review, manifest, audit, data card, report
    others = 0
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        if f.suffix == ".parquet":
            blob = json.dumps(pq.read_table(f).to_pylist(), default=lambda b: "", ensure_ascii=False)
        else:
            blob = f.read_text(encoding="utf-8", errors="replace")
        others += 1
        for canary in CANARIES + ["Quackenbush", "PT-CANARY"]:
            assert canary not in blob, f"{canary!r} leaked into {f.relative_to(out)}"
    assert (out / "report" / "index.html").is_file() and (out / "lineage" / "rows").is_dir() and others > 10
