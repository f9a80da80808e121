"""The secret that keys pseudonyms and date shifts: the published demo secret and guessable secrets are
refused for real inputs, with one clear line, before anything is written."""
from __future__ import annotations

import pytest

from pipelines.cli import main
from pipelines.errors import UserError
from pipelines.secret import DEMO_SECRET, resolve_secret, secret_weakness

WEAK = ["aaaaaaaaaaaaaaaa", "1234567890123456", "passwordpassword", "monkeymonkeymonkey", "qwertyuiopasdfgh",
        "abcdabcdabcdabcd", "hospital-secret-2024", "0123456789abcdef", "张伟张伟张伟张伟张伟张伟张伟张伟"]
STRONG = ["7f3a9c0e1b2d4f6a8c0e2b4d6f8a0c1e", "correct-horse-battery-staple-velvet", "Tr0ub4dor&3-xyzzy-plugh!"]


@pytest.mark.parametrize("value", WEAK)
def test_guessable_secrets_are_refused_without_quoting_them(value):
    problem = secret_weakness(value.encode())
    assert problem and "too easy to guess" in problem and value not in problem


@pytest.mark.parametrize("value", STRONG)
def test_random_and_long_passphrase_secrets_are_accepted(value):
    assert secret_weakness(value.encode()) is None


def test_the_demo_secret_is_refused_for_real_inputs_but_keys_the_sample(monkeypatch):
    monkeypatch.setenv("MEDCORPUS_SECRET", DEMO_SECRET.decode())
    with pytest.raises(UserError, match="published demo secret keys only the bundled sample"):
        resolve_secret(None, allow_demo=False)
    assert resolve_secret(None, allow_demo=True).demo  # given by hand for the sample: still a demo run


@pytest.mark.parametrize("value", [DEMO_SECRET.decode(), "aaaaaaaaaaaaaaaa", "1234567890123456"])
def test_build_refuses_in_one_line_before_writing(value, tmp_path, monkeypatch, capsys):
    src = tmp_path / "notes"
    src.mkdir()
    (src / "a.txt").write_text("Patient seen today for hypertension follow-up.", encoding="utf-8")
    monkeypatch.setenv("MEDCORPUS_SECRET", value)
    out = tmp_path / "out"
    assert main(["build", "--source", f"text:{src}", "--output", str(out)]) != 0
    lines = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("medcorpus: error: ") and value not in lines[0]
    assert "openssl rand -hex 32" in lines[0]
    assert not out.exists()


def test_a_weak_secret_file_is_refused_too(tmp_path):
    key = tmp_path / "k"
    key.write_text("aaaaaaaaaaaaaaaaaaaaaaaa\n", encoding="utf-8")
    with pytest.raises(UserError, match="too easy to guess"):
        resolve_secret(str(key), allow_demo=False)
    # forget must match an existing build's secret, whatever its strength
    assert resolve_secret(str(key), allow_demo=False, check_strength=False).origin == "file"
