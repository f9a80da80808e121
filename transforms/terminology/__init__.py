"""Terminology normalization: code systems, maps, text concepts and units, offline."""
from __future__ import annotations


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
    try:
        from importlib.metadata import version

        versions["simple-icd-10-cm"] = version("simple-icd-10-cm")
        versions["ucumvert"] = version("ucumvert")
    except Exception:  # noqa: BLE001
        pass
    return versions
