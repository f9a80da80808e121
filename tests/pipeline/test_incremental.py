"""Incremental and resumable builds: `build --incremental` re-does only changed patients, and a
killed run resumes from its per-patient cache; both give exactly the rows of a full rebuild."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR
from tests.pipeline.helpers import sorted_rows

pytestmark = pytest.mark.slow

SECRET = "incremental-test-secret-0123456789"
BUNDLES = 4


def _inputs(tmp_path: Path) -> Path:
    src = tmp_path / "fhir"
    src.mkdir()
    for f in sorted((SAMPLE_DIR / "fhir" / "synthea").glob("*.json.gz"))[:BUNDLES]:
        shutil.copy(f, src / f.name)
    return src


def _build(src, out, *extra) -> dict:
    assert main(["build", "--source", f"fhir:{src}", "--output", str(out), "--overwrite",
                 "--direct_running_mode", "in_memory", *extra]) == 0
    return json.loads((out / "manifest.json").read_text())


def _change_one_patient(src: Path) -> None:
    """Edit one bundle's clinical content (a note's text) and leave the others byte-identical."""
    f = sorted(src.glob("*.json.gz"))[0]
    bundle = json.loads(gzip.decompress(f.read_bytes()))
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Condition":
            r["code"]["text"] = (r["code"].get("text") or "") + " (reviewed)"
            break
    f.write_bytes(gzip.compress(json.dumps(bundle).encode()))


@pytest.fixture(scope="module")
def full_original(tmp_path_factory):
    """A plain full build of the unchanged inputs: what every incremental result must equal."""
    tmp = tmp_path_factory.mktemp("full_original")
    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        out = tmp / "full"
        _build(_inputs(tmp), out)
    finally:
        del os.environ["MEDCORPUS_SECRET"]
    assert not (out / "cache").exists()
    return sorted_rows(out)


def test_incremental_rebuild_redoes_only_changed_patients_and_matches_a_full_build(tmp_path, monkeypatch,
                                                                                    full_original):
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET)
    src = _inputs(tmp_path)
    out = tmp_path / "inc"
    first = _build(src, out, "--incremental")
    assert first["incremental"] == {"patients_reused": 0, "patients_rebuilt": BUNDLES}
    assert any((out / "cache").rglob("*.pkl"))
    assert sorted_rows(out) == full_original

    _change_one_patient(src)
    second = _build(src, out, "--incremental")
    assert second["incremental"] == {"patients_reused": BUNDLES - 1, "patients_rebuilt": 1}
    assert second["reconciliation"]["ok"]

    full = tmp_path / "full"
    _build(src, full)
    assert full.joinpath("manifest.json").is_file() and not (full / "cache").exists()
    assert sorted_rows(out) == sorted_rows(full)


def test_a_killed_run_resumes_from_its_cache(tmp_path, full_original):
    src = _inputs(tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ, MEDCORPUS_SECRET=SECRET)
    cmd = [sys.executable, "-m", "pipelines.cli", "build", "--source", f"fhir:{src}", "--output", str(out),
           "--incremental", "--direct_running_mode", "in_memory"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=Path(__file__).resolve().parents[2])
    deadline = time.time() + 300
    while time.time() < deadline and len(list((out / "cache").rglob("*.pkl"))) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # no clean-up: as if the machine went away
    proc.wait()
    done = len(list((out / "cache").rglob("*.pkl")))
    assert done >= 2 and not (out / "manifest.json").exists()

    os.environ["MEDCORPUS_SECRET"] = SECRET
    try:
        resumed = _build(src, out, "--incremental")
        assert resumed["incremental"]["patients_reused"] >= 2
        assert resumed["incremental"]["patients_reused"] + resumed["incremental"]["patients_rebuilt"] == BUNDLES
    finally:
        del os.environ["MEDCORPUS_SECRET"]
    assert sorted_rows(out) == full_original
