"""The public builder helpers follow the cell-true task rule: a user builder's example joins a
disease-specific task only when its ``answer_codes`` fall under that disease. Pure functions, < 1 s."""
from __future__ import annotations

import pytest
import yaml

from pipelines.config import CONFIG_DIR


@pytest.fixture()
def site_matrix(tmp_path):
    from transforms.tasks.plugin import chat, new_example, register_builder
    from transforms.tasks.registry import BUILDERS, KINDS
    from transforms.tiering.matrix import load_matrix

    @register_builder("site_bp_advice")
    def site_bp_advice(record, task, ctx):
        for codes, key in (([], "uncoded"), (["I10"], "coded")):
            ex = new_example(record, task, key=[key], language="en", set="sft", answer_codes=codes)
            ex["messages"] = chat("Advice for this blood pressure?", "Reduce salt. (I10 - Essential hypertension)")
            yield ex

    matrix = yaml.safe_load((CONFIG_DIR / "matrix.yaml").read_text(encoding="utf-8"))
    matrix["tasks"] = [{"id": "site_bp", "disease": "hypertension", "scenario": "chronic_disease_management",
                        "builder": "site_bp_advice", "sets": ["sft"], "annotation_level": "weak",
                        "quota": {"min": 1, "max": 5}, "languages": ["en"]}]
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(matrix, allow_unicode=True), encoding="utf-8")
    yield load_matrix(str(path))
    BUILDERS.pop("site_bp_advice", None)
    KINDS.pop("site_bp_advice", None)


def test_a_user_example_joins_a_disease_task_only_through_its_answer_codes(site_matrix):
    from transforms.tasks import build_examples_for_record

    record = {"patient_key": "pk-0000000000000001", "disease_codes": ["I10", "E11.9"], "resources": []}
    examples = build_examples_for_record(record, site_matrix)
    assert len(examples) == 1
    ex = examples[0]
    assert ex["answer_codes"] == ["I10"] and ex["disease_ids"] == ["hypertension"] and ex["disease_codes"] == ["I10"]
    assert ex["task_id"] == "site_bp" and ex["specific"] is True


def test_answer_codes_must_be_a_list_not_one_string():
    from transforms.tasks.plugin import new_example

    with pytest.raises(ValueError, match="answer_codes"):
        new_example({"patient_key": "pk-1"}, {"id": "t"}, key=["k"], language="en", set="sft", answer_codes="I10")
