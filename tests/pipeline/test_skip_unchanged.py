"""`build --skip-unchanged` reuses a complete build of the same inputs, config, secret and version."""
from __future__ import annotations

import json
import os
import shutil

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR


def _build(src, out, *extra):
    return main(["build", "--source", f"text:{src}", "--output", str(out), "--skip-unchanged",
                 "--direct_running_mode", "in_memory", *extra])


def test_unchanged_inputs_are_reused_and_a_changed_input_rebuilds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDCORPUS_SECRET", "skip-unchanged-test-secret-0123")
    src = tmp_path / "text"
    shutil.copytree(SAMPLE_DIR / "text" / "guidelines", src)
    out = tmp_path / "out"
    assert _build(src, out) == 0
    first = json.loads((out / "manifest.json").read_text())
    shard = out / first["shards"]["pretraining"][0]["path"]
    stamp = shard.stat().st_mtime_ns
    capsys.readouterr()

    assert _build(src, out) == 0
    assert "reusing" in capsys.readouterr().err
    again = json.loads((out / "manifest.json").read_text())
    assert again["run_id"] == first["run_id"] and len(again["reused"]) == 1
    assert shard.stat().st_mtime_ns == stamp  # nothing was rewritten

    victim = sorted(p for p in src.rglob("*") if p.is_file())[0]  # touch one input: content may be equal
    os.utime(victim, (victim.stat().st_atime + 10, victim.stat().st_mtime + 10))
    assert _build(src, out) == 0
    rebuilt = json.loads((out / "manifest.json").read_text())
    assert rebuilt["run_id"] != first["run_id"] and "reused" not in rebuilt

    monkeypatch.setenv("MEDCORPUS_SECRET", "another-secret-for-the-same-input-0")
    assert _build(src, out) == 0  # a different secret changes every pseudonym: rebuild
    assert json.loads((out / "manifest.json").read_text())["run_id"] != rebuilt["run_id"]


def test_editing_a_user_table_changes_the_config_hash(tmp_path):
    """--skip-unchanged must not reuse a build after the user edits a map or display table."""
    from pipelines.config import config_hash, load_config

    table = tmp_path / "site_terms.csv"
    table.write_text("system,code,language,display\nhttp://loinc.org,2345-7,en,Glucose\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("terminology:\n  display_tables: [site_terms.csv]\n", encoding="utf-8")
    before = config_hash(load_config(str(cfg)))
    assert config_hash(load_config(str(cfg))) == before
    table.write_text("system,code,language,display\nhttp://loinc.org,2345-7,en,Glucose [Mass/volume]\n",
                     encoding="utf-8")
    assert config_hash(load_config(str(cfg))) != before


def test_input_fingerprint_is_keyed_by_the_run_secret(tmp_path):
    """manifest.json is shareable: its input fingerprint must not let a recipient test guessed file names."""
    import hashlib

    from pipelines.sources import input_fingerprint, make_source

    (tmp_path / "Smith_John_MRN20931847.txt").write_text("note\n")
    sources = [make_source("text", str(tmp_path))]
    a = input_fingerprint(sources, b"first-secret-for-fingerprints-01")
    assert a == input_fingerprint(sources, b"first-secret-for-fingerprints-01")
    assert a != input_fingerprint(sources, b"other-secret-for-fingerprints-02")
    # the unkeyed digest a recipient could recompute from a guessed listing is not what is recorded
    meta = (tmp_path / "Smith_John_MRN20931847.txt").stat()
    guess = hashlib.sha256(f"text\x1f{sources[0].pattern}\x1e/Smith_John_MRN20931847.txt\x1f{meta.st_size}"
                           f"\x1f{meta.st_mtime:.6f}\x1e".encode()).hexdigest()
    assert a != guess and len(a) == 64
