"""The shipped task builders (importing this module registers them all).

One module per family: ``coding`` (note -> ICD-10 diagnoses), ``labs`` (lab interpretation, chronic
review), ``medications`` (prescription review), ``records`` (discharge summary, readable record
summary), ``consult`` (triage, multi-turn consultation), ``imaging`` (report from image, impression
from findings), ``guideline`` (guideline cloze QA), ``preference`` (near-miss pairs). Labels derived by
rules from coded data are ``weak``; imported expert labels are ``fine``. Prompts are in
``data/prompts.yaml`` in English and Chinese.
"""
from __future__ import annotations

from transforms.tasks import coding, consult, guideline, imaging, labs, medications, preference, records  # noqa: F401
from transforms.tasks.common import condition_icd10, example_id, icd10_name, prompts  # noqa: F401
from transforms.tasks.labels import examples_from_labels  # noqa: F401
from transforms.tasks.labs import result_status  # noqa: F401
from transforms.tasks.preference import corruptions, sibling_code  # noqa: F401

FAMILIES = {
    "note_to_diagnoses": "diagnosis coding", "lab_interpretation": "lab interpretation",
    "chronic_review": "chronic disease review", "medication_review": "prescription review",
    "discharge_summary": "discharge summary", "record_summary": "record summary",
    "triage": "triage", "consultation": "multi-turn consultation", "imaging_report": "report from image",
    "report_impression": "report impression", "guideline_cloze": "guideline QA", "near_miss_pairs": "preference pairs",
}
