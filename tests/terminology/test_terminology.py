"""Terminology on the Synthea data and on sentences in English and Chinese."""
from __future__ import annotations

import gzip
import json

import pytest

from transforms.terminology.annotate import annotate_patient_codes
from transforms.terminology.codesystems import loinc_ok, normalize_coding, snomed_ok
from transforms.terminology.concepts import preferred_display, tag_concepts
from transforms.terminology.maps import TableError, code_map, load_map_table
from transforms.terminology.units import normalize_observation, ucum_valid


def _bundles(shared_data):
    for f in sorted((shared_data / "fhir" / "synthea-california").glob("*.json.gz")):
        yield [e["resource"] for e in json.loads(gzip.decompress(f.read_bytes()))["entry"]]


def test_clinical_conditions_get_icd10_categories_and_social_findings_are_their_own_category(shared_data):
    total = mapped = clinical = clinical_mapped = social = 0
    unmapped = set()
    for resources in _bundles(shared_data):
        ann = annotate_patient_codes(resources)
        stats = ann["coding_stats"]
        total += stats.get("conditions", 0)
        mapped += stats.get("conditions_with_icd10", 0)
        clinical += stats.get("conditions_clinical", 0)
        clinical_mapped += stats.get("conditions_clinical_with_icd10", 0)
        social += stats.get("conditions_social_administrative", 0)
        unmapped |= {c["code"] for r in resources if r["resourceType"] == "Condition"
                     for c in r["code"]["coding"] if not (code_map().get((c["system"], c["code"])) or {}).get("target_code")}
        assert all(len(c) == 3 for c in ann["disease_codes"])
    print(f"Conditions with an ICD-10 category: {mapped}/{total} = {mapped / total:.3f}; clinical conditions: "
          f"{clinical_mapped}/{clinical} = {clinical_mapped / clinical:.3f}; social/administrative findings: {social}")
    assert clinical + social == total
    assert clinical_mapped / clinical >= 0.95
    # what stays unmapped is employment, education and administrative situations, by design
    assert unmapped <= {"160903007", "160904001", "314529007", "224299000", "473461003", "5251000175109",
                        "1187604002", "183996000"}


QUALIFIERS = [("without aura", "with aura"), ("type 1", "type 2"), ("not intractable", "intractable"),
              ("without hematuria", "with hematuria"), ("acute", "chronic")]


def _conflict(source: str, target: str) -> str | None:
    s, t = source.lower(), target.lower()
    for a, b in QUALIFIERS:
        for x, y in ((a, b), (b, a)):
            # y must be absent from the source except as part of x ("without aura" holds "with aura")
            if x in s and y in t.replace(x, "") and y not in s.replace(x, ""):
                return f"{x!r} in the source, {y!r} in the target"
    return None


def test_map_targets_keep_the_qualifiers_of_the_source_display(shared_data):
    """'Chronic intractable migraine without aura' must not map to a code 'with aura'."""
    problems = set()
    for resources in _bundles(shared_data):
        for r in resources:
            if r["resourceType"] != "Condition":
                continue
            for c in r["code"]["coding"]:
                row = code_map().get((c["system"], c["code"])) or {}
                why = row.get("target_code") and _conflict(c.get("display") or "", row["target_display"])
                if why:
                    problems.add(f"{c['code']} {c.get('display')} -> {row['target_code']}: {why}")
    assert not problems, sorted(problems)
    assert code_map()[("http://snomed.info/sct", "124171000119105")]["target_code"] == "G43.719"


def test_every_observation_quantity_has_a_ucum_unit_and_a_canonical_unit(shared_data):
    n = ok = canonical = 0
    for resources in _bundles(shared_data):
        for r in resources:
            if r["resourceType"] == "Observation" and "valueQuantity" in r:
                out = normalize_observation(r)
                n += 1
                ok += out["ucum_valid"]
                canonical += out["canonical_unit"] is not None
    print(f"UCUM-valid units {ok}/{n}, canonical units {canonical}/{n}")
    assert ok / n >= 0.99 and canonical / n >= 0.99


def test_all_ucumvert_example_units_parse():
    from pathlib import Path

    import ucumvert

    examples = Path(ucumvert.__file__).resolve().parent / "vendor" / "ucum_examples.tsv"
    if not examples.is_file():
        pytest.skip("ucumvert does not ship its example table in this version")
    codes = [line.split("\t")[1] for line in examples.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    bad = [c for c in codes if not ucum_valid(c)]
    essence = (examples.parent / "ucum-essence.xml").read_text(encoding="utf-8")
    # "Torr" is listed in the examples with a note but is not an atom of ucum-essence.xml: not UCUM
    assert all(f'Code="{c}"' not in essence for c in bad), bad
    assert len(codes) == 848 and len(bad) <= 1, bad


def test_glucose_mmol_per_litre_converts_to_mg_per_decilitre_with_the_molar_mass():
    obs = {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
           "valueQuantity": {"value": 5.5, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}}
    out = normalize_observation(obs)
    assert out["canonical_unit"] == "mg/dL" and abs(out["canonical_value"] - 99.09) < 0.1
    obs["valueQuantity"]["value"] = 900.0  # 900 mmol/L of glucose is not a human value
    assert "implausible" in normalize_observation(obs)["flags"]
    obs["valueQuantity"] = {"value": "high", "unit": "furlongs"}
    assert "non_numeric_value" in normalize_observation(obs)["flags"]


def test_code_formats_are_checked_and_invalid_codes_flagged_not_dropped():
    assert snomed_ok("59621000") and not snomed_ok("59621001")
    assert loinc_ok("2345-7") and not loinc_ok("2345-8")
    bad = normalize_coding("http://hl7.org/fhir/sid/icd-10-cm", "I99.99X")
    assert "invalid_format" in bad["flags"] or "not_in_table" in bad["flags"]
    assert normalize_coding("http://hl7.org/fhir/sid/icd-10-cm", "E11.9")["icd10_category"] == "E11"
    assert "unknown_system" in normalize_coding("http://example.org/local", "X1")["flags"]


@pytest.mark.parametrize("text,expected", [
    ("History of hypertension and T2DM.", {("I10", False), ("E11", False)}),
    ("Patient denies high blood pressure.", {("I10", True)}),
    ("Chest CT ruled out lung nodule.", {("R91", True)}),
    ("否认高血压，2型糖尿病10年。", {("I10", True), ("E11", False)}),
    ("胸部CT未见肺结节。", {("R91", True)}),
    ("心电图示房颤。排除脑卒中。", {("I48", False), ("I63", True)}),
])
def test_synonyms_map_to_one_code_and_negation_blocks_them(text, expected):
    assert {(m["code"], m["negated"]) for m in tag_concepts(text)} == expected


def test_uncertain_mentions_are_marked():
    (m,) = tag_concepts("疑似肺癌，待排。")
    assert m["code"] == "C34" and m["uncertain"]


def test_one_preferred_display_per_language():
    assert preferred_display("I10", "zh") == "高血压" and preferred_display("I10", "en") == "Hypertension"


def test_malformed_user_map_table_fails_at_start_up_naming_the_file(tmp_path):
    bad = tmp_path / "local.csv"
    bad.write_text("code,target\n1,2\n", encoding="utf-8")
    with pytest.raises(TableError, match="local.csv.*lacks column"):
        load_map_table(bad)
    with pytest.raises(TableError, match="not found"):
        load_map_table(tmp_path / "missing.csv")


def test_units_give_the_same_answers_when_many_threads_start_at_once():
    """A Beam worker runs bundles on many threads; the first uses of the unit registry and the UCUM
    parser must not race (a race raised RedefinitionError and cached valid units as invalid)."""
    import threading

    from transforms.terminology import units

    codes = ["cm", "kg", "mg/dL", "mmol/L", "[in_i]", "kg/m2", "/min", "mm[Hg]"]
    for _ in range(3):
        for cached in (units._build_parser, units._registry, units.ucum_valid, units._unit):
            cached.cache_clear()
        barrier, results = threading.Barrier(8), []

        def work():
            barrier.wait()
            results.append([units.ucum_valid(c) for c in codes] + [units.convert(1.0, "cm", "m")])

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [[True] * len(codes) + [0.01]] * 8
