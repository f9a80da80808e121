"""Terminology normalization: code systems, maps, text concepts and units, offline."""
from __future__ import annotations

from pathlib import Path


def table_versions(config: dict | None = None) -> dict:
    """Versions of every terminology table in use (shipped, and the user's maps and display tables
    named in ``config``), for the manifest."""
    from transforms.terminology.concepts import dictionary
    from transforms.terminology.displays import display_table_versions
    from transforms.terminology.maps import map_versions
    from transforms.terminology.units import lab_table

    terms = (config or {}).get("terminology") or {}
    versions = dict(map_versions(tuple(terms.get("maps") or [])))
    versions.update(display_table_versions(tuple(terms.get("display_tables") or [])))
    versions["synonyms.yaml"] = str(dictionary().get("version"))
    versions["lab_units.yaml"] = str(lab_table().get("version"))
    from transforms.context import rules as context_rules
    from transforms.terminology.categories import table as categories_table
    from transforms.terminology.maps import _version

    versions["context_rules.yaml"] = str(context_rules().get("version"))
    versions["code_categories.yaml"] = str(categories_table().get("version"))
    versions["icd10_zh_categories.csv"] = _version(Path(__file__).resolve().parent / "data" / "icd10_zh_categories.csv")
    try:
        from importlib.metadata import version

        versions["simple-icd-10-cm"] = version("simple-icd-10-cm")
        versions["ucumvert"] = version("ucumvert")
    except Exception:  # noqa: BLE001
        pass
    return versions
