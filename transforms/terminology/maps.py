"""Code maps (SNOMED CT -> ICD-10, local -> standard) from CSV or Parquet tables.

Schema: ``source_system, source_code, target_system, target_code, target_display, map_source``.
Lines starting with ``#`` are comments (the first may carry ``version X``). The shipped starter
table covers the bundled sample and the Synthea development data; user tables named in the config
(``terminology.maps``) are loaded on top and win on conflicts. A missing or malformed table stops
the run at start-up with the file and the problem named.
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from pipelines.errors import UserError

DATA = Path(__file__).resolve().parent / "data"
STARTER = DATA / "snomed_icd10_starter.csv"
COLUMNS = ("source_system", "source_code", "target_system", "target_code", "target_display", "map_source")


class TableError(UserError):
    pass


def _version(path: Path) -> str:
    if path.suffix == ".csv":
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                m = re.search(r"version\s+([\w.\-]+)", line) if line.startswith("#") else None
                if m:
                    return m[1]
                if not line.startswith("#"):
                    break
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]  # no version header: its content


def read_user_table(path: Path, columns: tuple[str, ...], what: str) -> list[dict]:
    """Rows of a user-supplied CSV (``#`` lines are comments) or Parquet table; a clear error naming
    the file when it is missing, unreadable or lacks one of ``columns``."""
    if not path.is_file():
        raise TableError(f"terminology {what} not found: {path}")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception:  # noqa: BLE001
            raise TableError(f"terminology {what} is not readable Parquet: {path}") from None
        missing = [c for c in columns if rows and c not in rows[0]]
    else:
        with open(path, encoding="utf-8") as fh:
            reader = csv.DictReader(line for line in fh if not line.startswith("#"))
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            rows = list(reader) if not missing else []
    if missing:
        raise TableError(f"terminology {what} {path} lacks column(s): {', '.join(missing)}")
    return rows


def load_map_table(path: Path) -> list[dict]:
    rows = read_user_table(path, COLUMNS, "map table")
    for i, row in enumerate(rows, start=2):
        if not row.get("source_system") or not row.get("source_code"):
            raise TableError(f"terminology map table {path} row {i}: source_system and source_code are required")
    return rows


@lru_cache(maxsize=8)
def code_map(extra: tuple[str, ...] = ()) -> dict[tuple[str, str], dict]:
    table: dict[tuple[str, str], dict] = {}
    for path in (STARTER, *map(Path, extra)):
        for row in load_map_table(path):
            table[(row["source_system"].strip(), str(row["source_code"]).strip())] = row
    return table


def map_versions(extra: tuple[str, ...] = ()) -> dict:
    return {Path(p).name: _version(Path(p)) for p in (STARTER, *extra)}
