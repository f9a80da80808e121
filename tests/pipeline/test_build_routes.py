"""`medcorpus build` (issue 14, routes 1-5): identifiers planted in attachments of every text content
type, HTML split by entities and tags, coding displays, medication and dosage texts, extensions,
Encounter identifiers, DICOM descriptions and notes (English and Chinese) reach no output file; a
note without a patient has its dates and its ``date`` column shifted; a 90+ patient's notes keep no
birth date or birth year."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from schemas.tables import SPLITS
from transforms.write.rows import content_text
from tests.pipeline.routes_inputs import OLD, UNLINKED_DATE, output_strings, planted, write_build_inputs
from transforms.deid.text import KnownPHI

SECRET = "routes-build-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("routes-build")
    dirs = write_build_inputs(root / "in")
    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        assert main(["build", "--source", f"fhir:{dirs['fhir']}", "--source", f"dicom:{dirs['dicom']}",
                     "--source", f"text:{dirs['text']}", "--output", str(root / "out"),
                     "--direct_running_mode", "in_memory"]) == 0
    finally:
        os.environ.pop("MEDCORPUS_SECRET", None)
    return root / "out"


def split_texts(out) -> list[tuple[str, dict, str]]:
    rows = []
    for split in SPLITS:
        for f in sorted((out / split).glob("*.parquet")):
            for row in pq.read_table(f).to_pylist():
                texts = [content_text(row.get(k)) for k in ("text", "prompt", "chosen", "rejected", "reference")]
                texts += [m["content"] for m in row.get("messages") or []]
                rows.append((split, row, "\n".join(t for t in texts if t)))
    return rows


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_planted_identifier_in_any_output_file(corpus, lang):
    blob = output_strings(corpus)
    for value in planted(lang):
        assert value not in blob, f"a planted {lang} identifier reached the corpus"
    texts = "\n".join(t for _, _, t in split_texts(corpus))
    # the routes were taken: the note (attachments, notes), the medication text (SFT), the image caption
    anchors = {"en": ["continue lisinopril", "Lisinopril 10 mg", "CT chest"],
               "zh": ["继续口服赖诺普利", "赖诺普利 10 mg", "CT chest"]}[lang]
    assert all(a in texts for a in anchors)


def test_note_without_a_patient_has_its_dates_and_date_column_shifted(corpus):
    rows = [r for s, r, t in split_texts(corpus) if s == "pretraining" and "Walk-in patient" in t]
    assert len(rows) == 1 and "07/15/2019" not in rows[0]["text"] and "07/18/2019" not in rows[0]["text"]
    moved = (dt.date.fromisoformat(rows[0]["date"]) - dt.date.fromisoformat(UNLINKED_DATE)).days
    assert 0 < abs(moved) <= 365
    lineage = pq.read_table(corpus / "lineage" / "inputs").to_pylist()
    walk_in = [r for r in lineage if r["source"].endswith("walk_in.jsonl")]
    assert walk_in and all(r["date_shift_days"] == moved for r in walk_in)


@pytest.mark.skipif("over_89" not in {f.name for f in dataclasses.fields(KnownPHI)},
                    reason="needs KnownPHI.over_89 in the text de-identifier (issue 13)")
def test_notes_of_a_patient_over_89_keep_no_birth_date_or_year(corpus):
    notes = [t for _, _, t in split_texts(corpus) if "amlodipine" in t]
    assert notes
    for text in notes:
        assert OLD["name"] not in text and OLD["dob_text"] not in text
        assert not re.search(r"\b19(1\d|2\d|3[0-5])\b", text), "a birth year of a 90+ patient survived"
        assert "95-year-old" not in text
