"""FHIR parsing: medcorpus's reader vs fhir.resources validation alone, same files, one run.

    python benchmarks/bench_fhir_parse.py [--repeat 2]

Both sides read the 88 gzip Synthea bundles in ``../shared/data/fhir/synthea-california``:

* medcorpus: ``iter_fhir_units`` — gunzip, orjson, every entry validated against its R4B model
  (so a bad resource is rejected alone), positions recorded;
* fhir.resources alone: ``Bundle.model_validate_json`` on the same bytes (what a user would write;
  one invalid entry fails the whole bundle).

Prints resources/s and MB/s (decompressed JSON) for both and the ratio.
"""
from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "fhir" / "synthea-california"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2, help="timed passes over the files (best is kept)")
    args = ap.parse_args()
    from fhir.resources.R4B.bundle import Bundle

    from transforms.io.fhir_parse import iter_fhir_units

    files = [(f.name, f.read_bytes()) for f in sorted(DATA.glob("*.json.gz"))]
    if not files:
        print(f"no Synthea bundles in {DATA}", file=sys.stderr)
        return 2
    raw = [gzip.decompress(b) for _, b in files]
    mb = sum(len(r) for r in raw) / 1e6
    list(iter_fhir_units(files[0][1], "warm-up"))  # load the model classes once
    Bundle.model_validate_json(raw[0])

    def ours():
        n = bad = 0
        for name, blob in files:
            for unit in iter_fhir_units(blob, name):
                n += 1
                bad += bool(unit.get("reject"))
        return n, bad

    def theirs():
        n = failed = 0
        for blob in files:
            try:
                n += len(Bundle.model_validate_json(gzip.decompress(blob[1])).entry or [])
            except Exception:  # noqa: BLE001 - one bad entry fails the bundle
                failed += 1
        return n, failed

    results = {}
    for label, fn in (("medcorpus iter_fhir_units", ours), ("fhir.resources Bundle.model_validate_json", theirs)):
        best = None
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            n, bad = fn()
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        results[label] = (n, bad, best)
    print(f"{len(files)} bundles, {mb:.1f} MB of JSON")
    print(f"{'reader':44s} {'resources':>9s} {'bad':>4s} {'s':>7s} {'res/s':>8s} {'MB/s':>6s}")
    for label, (n, bad, dt) in results.items():
        print(f"{label:44s} {n:9d} {bad:4d} {dt:7.2f} {n / dt:8.0f} {mb / dt:6.2f}")
    (a, _, ta), (b, _, tb) = results.values()
    print(f"ratio (medcorpus / fhir.resources, resources/s): {(a / ta) / (b / tb):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
