"""Helpers for end-to-end pipeline tests: run the CLI in-process and read the corpus back."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.cli import main
from schemas.tables import FAMILY, SPLITS, TABLES


def build(out: Path, *extra: str) -> dict:
    code = main(["build", "--output", str(out), "--overwrite", *extra])
    assert code == 0, f"build exited {code}"
    return json.loads((out / "manifest.json").read_text())


def shared_build(tmp_path_factory, name: str, *extra: str) -> Path:
    """One build per test session, shared by test files and by pytest-xdist workers (a file lock:
    the first caller builds, the others wait and read). Callers must not change it; copy first."""
    import os

    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's directory, shared by its workers
    out = root / f"shared-{name}"
    with FileLock(str(out) + ".lock"):
        if not (out / "manifest.json").is_file():
            build(out, *extra)
    return out


def read_table(out: Path, table: str):
    files = sorted((out / table).glob("*.parquet"))
    assert files, f"no shards in {table}"
    return pq.read_table([str(f) for f in files]) if len(files) > 1 else pq.read_table(files[0])


def sorted_rows(out: Path) -> dict[str, list]:
    """Every split's rows, sorted, with bytes made comparable."""
    result = {}
    for table in list(SPLITS) + ["rejected"]:
        rows = []
        for f in sorted((out / table).glob("*.parquet")):
            rows.extend(pq.read_table(f).to_pylist())
        result[table] = sorted(json.dumps(r, sort_keys=True, default=lambda b: b.hex()) for r in rows)
    return result


def patient_families(out: Path) -> dict[str, str]:
    """patient_key -> "evaluation" | "train"; fails if a patient sits in both families."""
    family: dict[str, str] = {}
    for split in SPLITS:
        for f in sorted((out / split).glob("*.parquet")):
            for key in pq.read_table(f).column("patient_key").to_pylist():
                if key:
                    fam = "evaluation" if FAMILY[split] == "evaluation" else "train"
                    assert family.setdefault(key, fam) == fam, "a patient is in evaluation and training"
    return family


__all__ = ["build", "read_table", "sorted_rows", "patient_families", "TABLES"]
