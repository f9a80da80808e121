"""Units: parse UCUM (ucumvert), convert with pint, one canonical unit per LOINC code, ranges."""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data" / "lab_units.yaml"


#: pint's registry and ucumvert's lark parser are built lazily and are not safe to build or use
#: from several threads at once (a Beam worker runs bundles on many threads): two threads building
#: the registry together get RedefinitionErrors, and a failed parse would be cached as "not UCUM".
_LOCK = threading.RLock()


@lru_cache(maxsize=1)
def _registry():
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


def registry():
    with _LOCK:
        return _registry()


@lru_cache(maxsize=1)
def lab_table() -> dict:
    with open(DATA, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=4096)
def _unit(code: str):
    with _LOCK:
        return registry().from_ucum(code)


@lru_cache(maxsize=1)
def _build_parser():
    from ucumvert import get_ucum_parser

    return get_ucum_parser()


def _parser():
    with _LOCK:
        return _build_parser()


@lru_cache(maxsize=8192)
def ucum_valid(code: str) -> bool:
    """Valid UCUM syntax and known atoms (ucumvert's grammar); conversion is a separate question."""
    if not isinstance(code, str) or not code.strip():
        return False
    try:
        with _LOCK:
            _parser().parse(code.strip())
    except Exception:  # noqa: BLE001 - any parser error means "not UCUM"
        return False
    return True


def convert(value: float, unit: str, target: str, molar_mass: float | None = None) -> float | None:
    with _LOCK:
        return _convert(value, unit, target, molar_mass)


def _convert(value: float, unit: str, target: str, molar_mass: float | None) -> float | None:
    ureg = registry()
    try:
        q = ureg.Quantity(value, _unit(unit))
        t = _unit(target)
        try:
            return float(q.to(t).magnitude)
        except Exception:  # noqa: BLE001 - dimension mismatch: try through the molar mass
            if not molar_mass:
                return None
            mm = ureg.Quantity(molar_mass, "g/mol")
            for candidate in (q * mm, q / mm):
                try:
                    return float(candidate.to(t).magnitude)
                except Exception:  # noqa: BLE001
                    continue
            return None
    except Exception:  # noqa: BLE001
        return None


def _loinc(obs: dict) -> str | None:
    for c in (obs.get("code") or {}).get("coding") or []:
        if c.get("system") == "http://loinc.org" and c.get("code"):
            return c["code"]
    return None


def _quantity(node: dict) -> tuple[float | None, str | None, list[str]]:
    flags = []
    q = node.get("valueQuantity")
    if not isinstance(q, dict):
        return None, None, (["no_quantity"] if any(k.startswith("value") for k in node) else [])
    value = q.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None, q.get("code") or q.get("unit"), ["non_numeric_value"]
    unit = q.get("code") if q.get("system") == "http://unitsofmeasure.org" and q.get("code") else q.get("unit")
    return float(value), unit, flags


def normalize_quantity(loinc: str | None, value: float | None, unit: str | None) -> dict:
    flags: list[str] = []
    out = {"loinc": loinc, "value": value, "unit": unit, "canonical_value": None, "canonical_unit": None,
           "ucum_valid": bool(unit) and ucum_valid(unit), "flags": flags}
    if unit and not out["ucum_valid"]:
        flags.append("unit_not_ucum")
    spec = lab_table()["loinc"].get(loinc or "")
    if value is None:
        return out
    if spec is None:
        if out["ucum_valid"]:
            out["canonical_value"], out["canonical_unit"] = value, unit
        return out
    if out["ucum_valid"]:
        converted = value if unit == spec["unit"] else convert(value, unit, spec["unit"],
                                                                 spec.get("molar_mass_g_per_mol"))
        if converted is None:
            flags.append("unit_not_convertible")
        else:
            out["canonical_value"], out["canonical_unit"] = round(converted, 6), spec["unit"]
            lo, hi = spec["range"]
            if not lo <= converted <= hi:
                flags.append("implausible")
    return out


def normalize_observation(obs: dict) -> dict:
    loinc = _loinc(obs)
    value, unit, flags = _quantity(obs)
    result = normalize_quantity(loinc, value, unit)
    result["flags"] = flags + result["flags"]
    comps = []
    for comp in obs.get("component") or []:
        cv, cu, cf = _quantity(comp)
        c = normalize_quantity(_loinc(comp), cv, cu)
        c["flags"] = cf + c["flags"]
        comps.append(c)
    if comps:
        result["components"] = comps
    return result
