"""Regenerate the README's schema section from ``schemas/tables.py``: ``python -m schemas.sync_readme``."""
from pathlib import Path

from schemas.describe import BEGIN, END, render

README = Path(__file__).resolve().parents[1] / "README.md"

if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    README.write_text(text[:start] + render() + text[end:], encoding="utf-8")
    print("README schema section updated")
