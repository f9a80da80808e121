"""End-to-end build of the bundled sample: wall time and throughput with 1 and 2 workers.

    python benchmarks/bench_build.py
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from pipelines.cli import main as cli

    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "corpus"
            t = time.perf_counter()
            code = cli(["build", "--output", str(out), "--direct_num_workers", str(workers)])
            secs = time.perf_counter() - t
            assert code == 0
            m = json.loads((out / "manifest.json").read_text())
        units = m["reconciliation"]["units"]["read"]
        docs = m["stages"]["documents"]["quality"]["in"]
        rows.append((workers, secs, units / secs, docs / secs, sum(m["counts"]["by_split"].values())))
    print(f"{'workers':>8}{'seconds':>9}{'units/s':>9}{'docs/s':>8}{'rows':>6}")
    for w, s, u, d, r in rows:
        print(f"{w:>8}{s:>9.1f}{u:>9.1f}{d:>8.1f}{r:>6}")
    print("(seconds include Beam start-up and per-worker loading of the spaCy/Presidio engines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
