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
