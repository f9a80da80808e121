"""User mistakes end in one clear line and a non-zero exit, never a traceback, and write nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    import os

    e = {k: v for k, v in os.environ.items() if k != "MEDCORPUS_SECRET"}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                          env=e, cwd=cwd or REPO, timeout=120)


def test_missing_source_path_fails_with_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    res = run_cli("build", "--source", "fhir:/no/such/path", "--output", str(out))
    assert res.returncode != 0
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert lines == ["medcorpus: error: source path does not exist: /no/such/path"], res.stderr
    assert not out.exists()


def test_user_text_without_secret_fails_before_writing(tmp_path):
    src = tmp_path / "notes"
    src.mkdir()
    (src / "a.txt").write_text("Patient seen today for hypertension follow-up.", encoding="utf-8")
    out = tmp_path / "out"
    res = run_cli("build", "--source", f"text:{src}", "--output", str(out))
    assert res.returncode != 0
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "MEDCORPUS_SECRET" in lines[0] and "--secret-file" in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_unknown_config_key_lists_valid_keys(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("fhir:\n  modee: strict\n", encoding="utf-8")
    res = run_cli("build", "--config", str(cfg), "--output", str(tmp_path / "o"))
    assert res.returncode != 0
    assert "unknown config key 'fhir.modee'" in res.stderr and "valid keys: mode, version" in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_source_kind_is_explained(tmp_path):
    res = run_cli("build", "--source", f"pdf:{tmp_path}", "--output", str(tmp_path / "o"))
    assert res.returncode != 0
    assert "KIND one of fhir, dicom, text" in res.stderr


def test_every_command_has_help_with_examples():
    for cmd in ("build", "deid", "validate", "sample"):
        res = run_cli(cmd, "--help")
        assert res.returncode == 0, cmd
        assert "example" in res.stdout.lower(), cmd


def test_short_secret_is_refused(tmp_path):
    src = tmp_path / "n"
    src.mkdir()
    (src / "a.txt").write_text("text", encoding="utf-8")
    res = run_cli("build", "--source", f"text:{src}", "--output", str(tmp_path / "o"), env={"MEDCORPUS_SECRET": "short"})
    assert res.returncode != 0 and "too short" in res.stderr


def test_sample_command_writes_the_bundled_inputs(tmp_path):
    res = run_cli("sample", "--output", str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "s" / "fhir").rglob("*.json.gz"))) == 14
    assert (tmp_path / "s" / "dicom").is_dir() and (tmp_path / "s" / "text" / "notes_zh.jsonl").is_file()
    assert (tmp_path / "s" / "NOTICE.md").is_file()


def test_a_malformed_display_table_is_named_before_any_data_is_read(tmp_path):
    table = tmp_path / "site_terms.csv"
    table.write_text("system,code,display\nhttp://loinc.org,2345-7,Glucose\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("terminology:\n  display_tables: [site_terms.csv]\n", encoding="utf-8")
    res = run_cli("build", "--config", str(cfg), "--output", str(tmp_path / "o"))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "site_terms.csv lacks column(s): language" in lines[0], res.stderr
    assert not (tmp_path / "o").exists()
