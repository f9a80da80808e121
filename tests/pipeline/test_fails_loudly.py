"""Nothing fails silently: each mistake that used to run to exit 0 (or to a traceback) now ends in
one `medcorpus: error:` line and a non-zero exit, before anything is read or written.

In-process (`pipelines.cli.main`), no pipeline runs: a few seconds in all.
"""
from __future__ import annotations

import shutil
import sys

import pytest

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR

SECRET = "fails-loudly-test-secret-0123456789"
BUNDLE = sorted((SAMPLE_DIR / "fhir" / "synthea").glob("*.json.gz"))[0]


def _run(capsys, *argv) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _one_error(code, lines, *fragments):
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("medcorpus: error: "), lines
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_a_mistyped_option_names_the_closest_one_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, lines = _run(capsys, "build", "--ouput", str(tmp_path / "out"))
    _one_error(code, lines, "--ouput", "did you mean --output?")
    assert not (tmp_path / "corpus-out").exists() and not (tmp_path / "out").exists()


def test_a_mistyped_beam_option_names_the_beam_option(capsys, tmp_path):
    code, lines = _run(capsys, "build", "--output", str(tmp_path / "o"), "--direct_num_worker=2")
    _one_error(code, lines, "did you mean --direct_num_workers?")


def test_deid_rejects_skip_unchanged_as_a_build_option(capsys, tmp_path):
    code, lines = _run(capsys, "deid", str(BUNDLE), "--output", str(tmp_path / "o"), "--skip-unchanged")
    _one_error(code, lines, "--skip-unchanged is an option of 'medcorpus build'")
    assert not (tmp_path / "o").exists()


def test_commands_without_beam_reject_unknown_options(capsys, tmp_path):
    code, lines = _run(capsys, "validate", str(tmp_path), "--runner", "DirectRunner")
    _one_error(code, lines, "unknown option --runner")


def test_options_of_imported_pipeline_options_subclasses_pass():
    """A runner's options (e.g. a Dask runner's) pass once the class that defines them is imported."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.errors import UserError
    from pipelines.options import check_passthrough

    with pytest.raises(UserError):
        check_passthrough("build", ["--medcorpus_test_option", "x"], [], {}, beam=True)

    class _TestRunnerOptions(PipelineOptions):  # noqa: F841 - registered by being defined
        @classmethod
        def _add_argparse_args(cls, parser):
            parser.add_argument("--medcorpus_test_option")

    check_passthrough("build", ["--medcorpus_test_option", "x", "--runner", "DirectRunner"], [], {}, beam=True)


@pytest.mark.parametrize("yaml_text, fragments", [
    ("split:\n  evaluation_ratio: 3\n", ("'split.evaluation_ratio'", "less than 1", "(got 3)")),
    ("fhir:\n  version: R6\n", ("'fhir.version'", "'R4', 'R4B' or 'R5'", "(got 'R6')")),
    ("dicom:\n  render: movie\n", ("'dicom.render'",)),
    ("output:\n  rows_per_shard:\n    sft: 0\n", ("'output.rows_per_shard'", "at least 1")),
    ("split:\n  stratify_by: [age]\n", ("'split.stratify_by[0]'",)),
    ("tasks:\n  labels: [missing.jsonl]\n", ("'tasks.labels'", "file not found: ", "missing.jsonl")),
])
def test_an_invalid_config_value_fails_before_any_data_is_read(capsys, tmp_path, yaml_text, fragments):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text, encoding="utf-8")
    code, lines = _run(capsys, "build", "--config", str(cfg), "--output", str(tmp_path / "o"))
    _one_error(code, lines, "invalid config value", *fragments)
    assert not (tmp_path / "o").exists()


def test_a_missing_builder_module_is_one_line_before_anything_is_written(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tasks:\n  builders: [no_such_builders_module]\n", encoding="utf-8")
    code, lines = _run(capsys, "build", "--config", str(cfg), "--output", str(tmp_path / "o"))
    _one_error(code, lines, "tasks.builders: cannot import 'no_such_builders_module'")
    assert not (tmp_path / "o").exists()


def test_a_matrix_task_naming_an_unregistered_builder_is_refused(capsys, tmp_path):
    import yaml

    from pipelines.config import CONFIG_DIR

    matrix = yaml.safe_load((CONFIG_DIR / "matrix.yaml").read_text(encoding="utf-8"))
    matrix["tasks"].append({"id": "my_task", "disease": "*", "scenario": "follow_up", "builder": "not_registered",
                            "sets": ["sft"], "annotation_level": "weak", "quota": {"min": 0, "max": 1},
                            "languages": ["en"]})
    (tmp_path / "matrix.yaml").write_text(yaml.safe_dump(matrix, allow_unicode=True), encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("matrix: matrix.yaml\n", encoding="utf-8")
    code, lines = _run(capsys, "build", "--config", str(cfg), "--output", str(tmp_path / "o"))
    _one_error(code, lines, "matrix task 'my_task' names builder 'not_registered'")


def test_editing_a_builder_changes_the_config_hash(tmp_path, monkeypatch):
    """--skip-unchanged compares config hashes: a builder edit must change it."""
    import argparse

    from pipelines.build import preflight
    from transforms.tasks.registry import BUILDERS

    mod = tmp_path / "site_builders_hash.py"
    mod.write_text("from transforms.tasks.plugin import register_builder\n\n"
                   "@register_builder('site_hash_probe')\ndef probe(record, task, ctx):\n    return []\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tasks:\n  builders: [site_builders_hash]\n", encoding="utf-8")
    args = argparse.Namespace(source=[], config=str(cfg), output=str(tmp_path / "o"), secret_file=None, benchmark=[])
    try:
        first = preflight(args, [])[-1]
        assert preflight(args, [])[-1] == first
        mod.write_text(mod.read_text(encoding="utf-8").replace("return []", "return list()"), encoding="utf-8")
        assert preflight(args, [])[-1] != first
    finally:
        BUILDERS.pop("site_hash_probe", None)
        sys.modules.pop("site_builders_hash", None)


def test_a_text_source_pointed_at_fhir_bundles_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET)
    src = tmp_path / "export"
    src.mkdir()
    for bundle in sorted((SAMPLE_DIR / "fhir" / "synthea").glob("*.json.gz"))[:3]:
        shutil.copy(bundle, src / bundle.name)
    code, lines = _run(capsys, "build", "--source", f"text:{src}", "--output", str(tmp_path / "o"))
    _one_error(code, lines, f"--source text:{src} holds FHIR JSON", "3 of 3 files", f"use --source fhir:{src}")
    assert not (tmp_path / "o").exists()


def test_a_gs_output_without_beams_gcp_extras_says_what_to_install(capsys, tmp_path):
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem("gs://bucket/x")
        pytest.skip("apache-beam[gcp] is installed here")
    except ValueError:
        pass
    code, lines = _run(capsys, "build", "--output", "gs://bucket/corpus")
    _one_error(code, lines, "--output gs://", "pip install 'apache-beam[gcp]'")


def test_dry_run_checks_everything_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET)
    code, lines = _run(capsys, "build", "--source", f"fhir:{BUNDLE}", "--output", str(tmp_path / "o"), "--dry-run")
    assert code == 0 and len(lines) == 1 and "dry run" in lines[0] and "nothing was read or written" in lines[0]
    assert not (tmp_path / "o").exists()


def test_a_directory_left_by_an_interrupted_build_does_not_block_the_rerun(tmp_path):
    from pipelines.errors import UserError
    from pipelines.output_dir import RUNNING_MARKER, mark_running, prepare_output

    out = tmp_path / "o"
    out.mkdir()
    (out / "sft").mkdir()
    with pytest.raises(UserError, match="not empty"):
        prepare_output(str(out), overwrite=False)
    mark_running(str(out), "r1")  # what a killed build leaves behind
    prepare_output(str(out), overwrite=False)
    assert not (out / "sft").exists() and not (out / RUNNING_MARKER).exists()
