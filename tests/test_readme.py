"""The README stays true: its schema section is generated from schemas/, its quick start is make."""
from pathlib import Path

from schemas.describe import BEGIN, END, render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_schema_section_matches_the_arrow_schemas():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), "run: python -m schemas.sync_readme"


def test_readme_quick_start_shows_the_two_make_commands():
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start"):text.index("## Install")]
    assert "make run" in quick and "make test" in quick


def _readme_commands() -> list[list[str]]:
    """Every `medcorpus ...` command in the README's bash blocks, continuation lines joined."""
    import re
    import shlex

    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("medcorpus "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_readme_command_parses_with_the_strict_options():
    from pipelines.cli import parse_command

    commands = _readme_commands()
    assert len(commands) >= 3
    for argv in commands:
        if {"--help", "-h", "--version"} & set(argv):
            continue
        args, _ = parse_command(argv)  # raises UserError on any unknown option
        assert args.command, argv


def test_the_flink_example_uses_a_production_environment_type():
    flink = [a for a in _readme_commands() if "FlinkRunner" in a]
    assert flink
    for argv in flink:
        env = argv[argv.index("--environment_type") + 1]
        assert env in ("PROCESS", "DOCKER", "EXTERNAL"), env
        assert "--flink_version" in argv and "--environment_config" in argv


def test_the_dataflow_example_says_what_to_install_without_beams_gcp_extras(capsys):
    import pytest
    from apache_beam.io.filesystems import FileSystems

    from pipelines.cli import main

    try:
        FileSystems.get_filesystem("gs://bucket/x")
        pytest.skip("apache-beam[gcp] is installed here")
    except ValueError:
        pass
    dataflow = next(a for a in _readme_commands() if "DataflowRunner" in a)
    assert main(dataflow) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "pip install 'apache-beam[gcp]'" in err[0]


def test_the_shared_data_command_runs_as_written(shared_data, monkeypatch, capsys, tmp_path):
    """From the repository root, as the README says; --dry-run checks everything the build would
    (sources exist and hold FHIR, config, secret, builders) without the two-minute build."""
    from pipelines.cli import main

    command = next(a for a in _readme_commands() if "../shared/data/fhir/synthea-california" in " ".join(a))
    assert "--output" in command
    monkeypatch.chdir(README.parent)
    monkeypatch.setenv("MEDCORPUS_SECRET", "readme-command-test-secret-0123456789")
    output = command[command.index("--output") + 1]
    assert main([*command, "--dry-run"]) == 0, capsys.readouterr().err
    assert not (README.parent / output).exists()
