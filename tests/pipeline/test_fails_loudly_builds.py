"""Failures found while a build runs are loud: a failing task builder is a counted reject named on
the console, a build whose training splits are all empty exits non-zero with one line, and Ctrl-C
ends with one line and leaves nothing that blocks the same command.

Three tiny builds (a few sample bundles or one note): about a minute and a half in all.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.cli import main
from pipelines.config import CONFIG_DIR
from pipelines.sample.export import SAMPLE_DIR

SECRET = "fails-loudly-builds-secret-0123456789"
REPO = Path(__file__).resolve().parents[2]
BUNDLES = sorted((SAMPLE_DIR / "fhir" / "synthea").glob("*.json.gz"))[:2]


def _sources(tmp_path: Path) -> Path:
    src = tmp_path / "export"
    src.mkdir()
    for b in BUNDLES:
        (src / b.name).write_bytes(b.read_bytes())
    return src


def test_a_failing_builder_is_a_counted_reject_named_on_the_console(tmp_path, monkeypatch, capsys):
    from transforms.tasks.registry import BUILDERS

    (tmp_path / "site_builders_failing.py").write_text(
        "from transforms.tasks.plugin import register_builder\n\n"
        "@register_builder('always_fails')\n"
        "def always_fails(record, task, ctx):\n"
        "    return [record['no_such_field']]\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    matrix = yaml.safe_load((CONFIG_DIR / "matrix.yaml").read_text(encoding="utf-8"))
    matrix["tasks"].append({"id": "site_task", "disease": "*", "scenario": "follow_up", "builder": "always_fails",
                            "sets": ["sft"], "annotation_level": "weak", "quota": {"min": 0, "max": 1},
                            "languages": ["en"]})
    (tmp_path / "matrix.yaml").write_text(yaml.safe_dump(matrix, allow_unicode=True), encoding="utf-8")
    (tmp_path / "c.yaml").write_text("matrix: matrix.yaml\ntasks:\n  builders: [site_builders_failing]\n",
                                     encoding="utf-8")
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET)
    out = tmp_path / "out"
    try:
        code = main(["build", "--config", str(tmp_path / "c.yaml"), "--source", f"fhir:{_sources(tmp_path)}",
                     "--output", str(out), "--direct_running_mode", "in_memory"])
    finally:
        BUILDERS.pop("always_fails", None)
        sys.modules.pop("site_builders_failing", None)
    captured = capsys.readouterr()
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    failed = manifest["stages"]["builders"]["tasks"]["rejected"]
    assert list(failed) == ["builder_error:always_fails:KeyError"] and failed["builder_error:always_fails:KeyError"] > 0
    n = failed["builder_error:always_fails:KeyError"]
    warning = [line for line in captured.err.splitlines() if "always_fails" in line]
    assert warning == [f"medcorpus: warning: task builder 'always_fails' raised KeyError on {n} patient(s); their "
                       "examples are missing (rejected/, stage tasks)"]
    assert "always_fails raised KeyError" in captured.out  # in the summary too
    rejected = [r for f in (out / "rejected").glob("*.parquet") for r in pq.read_table(f).to_pylist()
                if r["stage"] == "tasks"]
    assert len(rejected) == n and all(r["error_kind"] == "builder_error:always_fails:KeyError" for r in rejected)
    assert all("no_such_field" not in r["message"] for r in rejected)  # the exception text is withheld
    assert manifest["counts"]["by_split"]["sft"] > 0  # the other builders still ran for those patients
    assert (out / "config.resolved.yaml").is_file()
    text = (out / "config.resolved.yaml").read_text(encoding="utf-8")
    resolved = yaml.safe_load(text)
    assert resolved["tasks"]["builders"] == ["site_builders_failing"] and resolved["quality"] == "builtin:quality.yaml"
    # a shareable side file: no absolute path; copied beside the user's config it is that config again
    assert resolved["matrix"] == "matrix.yaml" and str(tmp_path) not in text
    from pipelines.config import load_config

    (tmp_path / "again.yaml").write_text(text, encoding="utf-8")
    assert load_config(str(tmp_path / "again.yaml"))["matrix"] == str(tmp_path / "matrix.yaml")


def test_a_build_whose_training_splits_are_all_empty_exits_non_zero_with_one_line(tmp_path, monkeypatch, capsys):
    src = tmp_path / "notes"
    src.mkdir()
    (src / "a.txt").write_text("ok", encoding="utf-8")  # too short for every split
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET)
    code = main(["build", "--source", f"text:{src}", "--output", str(tmp_path / "o"), "--direct_running_mode",
                 "in_memory"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("medcorpus: error:")]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("medcorpus: error: every training split is empty"), errors
    assert "quality filtered" in errors[0]  # where the input went


@pytest.mark.slow
def test_ctrl_c_ends_with_one_line_and_the_same_command_runs_again(tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: the driver and the worker processes."""
    cmd = [sys.executable, "-m", "pipelines.cli", "build", "--source", f"fhir:{_sources(tmp_path)}",
           "--output", str(tmp_path / "out"), "--direct_num_workers", "2"]
    env = {**os.environ, "MEDCORPUS_SECRET": SECRET}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "out").glob("*")):
        time.sleep(0.5)  # the output directory exists: the pipeline is running
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130
    assert lines[-1].startswith("medcorpus: interrupted; removed the partial output in"), lines
    assert "Traceback" not in err and len(lines) <= 2, lines  # the start line and the interrupt line
    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (tmp_path / "out" / "manifest.json").is_file()
