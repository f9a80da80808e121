"""The 5,307 official FHIR R4 examples (npm hl7.fhir.r4.examples): each parses or is rejected
with a reason; none crashes the parser. The package comes from the npm registry into .cache/."""
from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from transforms.io.fhir_parse import iter_fhir_units

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "npm"


@pytest.fixture(scope="module")
def examples() -> list[tuple[str, bytes]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    tgz = next(iter(CACHE.glob("hl7.fhir.r4.examples-*.tgz")), None)
    if tgz is None:
        if not shutil.which("npm"):
            pytest.skip("npm is not available to fetch hl7.fhir.r4.examples from the npm registry")
        res = subprocess.run(["npm", "pack", "hl7.fhir.r4.examples@4.0.1", "--silent"], cwd=CACHE,
                             capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            pytest.skip("npm could not fetch hl7.fhir.r4.examples")
        tgz = next(CACHE.glob("hl7.fhir.r4.examples-*.tgz"))
    out = []
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(".json") and not m.name.endswith(("package.json", ".index.json")):
                out.append((m.name, tar.extractfile(m).read()))
    return out


def test_every_official_example_is_parsed_or_rejected_with_a_reason(examples):
    assert len(examples) >= 5300
    outcome = Counter()
    for name, data in examples:
        items = list(iter_fhir_units(data, f"fhir:{name}", fhir_version="R4", mode="lenient"))
        assert items, name
        for item in items:
            if item.get("reject"):
                assert item["error_kind"] and item["message"] and item["position"]
                outcome["rejected:" + item["error_kind"]] += 1
            else:
                outcome["valid" if item["valid"] else "kept_flagged_invalid"] += 1
    print(dict(outcome))
    assert outcome["valid"] > 5000
