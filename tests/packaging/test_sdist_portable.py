"""The sdist, installed into a clean virtualenv, runs the sample through PortableRunner.

This is how Flink and Dataflow workers run medcorpus: the package is built as an sdist, installed
into a fresh environment (``--setup_file`` / a worker image), and the SDK harness is started as a
separate process from that environment (Flink's PROCESS environment; here Beam's
``harness_subprocess_python`` environment, the same harness command without a job server jar).
The run happens outside the repository, so only the installed code can be imported.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("sdist")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(work / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    sdist = next((work / "dist").glob("medcorpus-*.tar.gz"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=300)
    py = work / "venv" / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-compile", str(sdist)], check=True, capture_output=True,
                   timeout=1200)
    return work, sdist, py


def test_sdist_holds_the_package_data_and_no_local_files(installed):
    _, sdist, _ = installed
    names = tarfile.open(sdist).getnames()
    for needed in ("pipelines/configs/default.yaml", "pipelines/configs/deid_policy.yaml", "expectations/sft.json",
                   "pipelines/sample/data/NOTICE.md", "setup.py"):
        assert any(n.endswith(needed) for n in names), needed
    assert not [n for n in names if "/.venv/" in n or "/.cache/" in n or "/corpus-out/" in n]


def test_installed_package_runs_the_sample_on_portable_runner_with_a_process_harness(installed):
    work, _, py = installed
    out = work / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEDCORPUS_SECRET")}
    run = subprocess.run(
        [str(work / "venv" / "bin" / "medcorpus"), "build", "--output", str(out), "--overwrite",
         "--runner", "PortableRunner", "--job_endpoint", "embed",
         "--environment_type", "beam:env:harness_subprocess_python:v1",
         "--environment_config", f"{py} -m apache_beam.runners.worker.sdk_worker_main"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runner"] == "PortableRunner" and manifest["reconciliation"]["ok"]
    assert all(manifest["counts"]["by_split"][s] > 0 for s in ("pretraining", "sft", "preference", "evaluation"))
    # the installed code ran, not this checkout
    where = subprocess.run([str(py), "-c", "import pipelines; print(pipelines.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert str(work / "venv") in where and str(REPO) not in where
    assert (out / "report" / "index.html").is_file() and (out / "lineage" / "rows").is_dir()
