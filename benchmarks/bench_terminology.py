"""Terminology throughput on the Synthea data: codings normalised per second, observations per second.

    python benchmarks/bench_terminology.py
"""
from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "fhir" / "synthea-california"


def main() -> int:
    from transforms.terminology.annotate import annotate_patient_codes
    from transforms.terminology.codesystems import normalize_coding
    from transforms.terminology.units import normalize_observation

    patients = [[e["resource"] for e in json.loads(gzip.decompress(f.read_bytes()))["entry"]]
                for f in sorted(DATA.glob("*.json.gz"))]
    codings = [(c.get("system"), c.get("code"), c.get("display")) for res in patients for r in res
               for cc in [r.get("code") or {}] if isinstance(cc, dict) for c in cc.get("coding") or []]
    observations = [r for res in patients for r in res if r["resourceType"] == "Observation"]
    annotate_patient_codes(patients[0])  # load tables once
    normalize_observation(observations[0])
    t = time.perf_counter()
    for system, code, display in codings:
        normalize_coding(system, code, display)
    t_codings = time.perf_counter() - t
    t = time.perf_counter()
    for res in patients:
        annotate_patient_codes(res)
    t_patients = time.perf_counter() - t
    t = time.perf_counter()
    for obs in observations:
        normalize_observation(obs)
    t_obs = time.perf_counter() - t
    print(f"{len(codings)} codings: {len(codings) / t_codings:,.0f} codings/s (normalize_coding)")
    print(f"{len(patients)} patients: {len(patients) / t_patients:,.1f} patients/s (ICD-10 categories from Conditions)")
    print(f"{len(observations)} observations: {len(observations) / t_obs:,.0f} observations/s (UCUM + canonical unit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
