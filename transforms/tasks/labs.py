"""Lab results -> high / low / normal (lab interpretation) and results over time (chronic review).

A result's status comes from, in this order: the Observation's interpretation code; its own
referenceRange (the value converted into the range's unit first); the shipped adult range
(``data/reference_ranges.yaml``), again after converting the value into the range's unit. A value whose
unit cannot be converted is left out rather than compared across units.
"""
from __future__ import annotations

from transforms.tasks.common import answer_line, base, diagnosis, prompt, resources, table, task_languages, who
from transforms.tasks.registry import register_builder

STATUS = {"en": {"high": "high", "low": "low", "normal": "normal"}, "zh": {"high": "偏高", "low": "偏低", "normal": "正常"}}
INTERPRETATION = {"H": "high", "HH": "high", "HU": "high", "L": "low", "LL": "low", "LU": "low", "N": "normal"}


def ranges() -> dict:
    return table("reference_ranges.yaml")["ranges"]


def _molar_mass(loinc: str) -> float | None:
    from transforms.terminology.units import lab_table

    return (lab_table()["loinc"].get(loinc) or {}).get("molar_mass_g_per_mol")


def in_unit(value: float, unit: str, target: str, loinc: str) -> float | None:
    """``value`` (in ``unit``) expressed in ``target``; None when the units do not convert."""
    from transforms.terminology.units import convert, ucum_valid

    if not unit or not target:
        return None
    if unit == target:
        return value
    if not (ucum_valid(unit) and ucum_valid(target)):
        return None
    return convert(value, unit, target, _molar_mass(loinc))


def _against(value: float, lo, hi) -> str:
    return "low" if lo is not None and value < lo else "high" if hi is not None and value > hi else "normal"


def result_status(loinc: str, value: float, unit: str, node: dict) -> tuple[str, str] | None:
    """(status, the reference it was read against) of one quantity, or None."""
    for interp in node.get("interpretation") or []:
        for c in interp.get("coding") or []:
            status = INTERPRETATION.get((c.get("code") or "").upper())
            if status:
                return status, ""
    for rr in node.get("referenceRange") or []:
        lo, hi = rr.get("low") or {}, rr.get("high") or {}
        if lo.get("value") is None and hi.get("value") is None:
            continue
        r_unit = lo.get("code") or lo.get("unit") or hi.get("code") or hi.get("unit") or unit
        v = in_unit(value, unit, r_unit, loinc)
        if v is None:
            return None
        return _against(v, lo.get("value"), hi.get("value")), _range_text(lo.get("value"), hi.get("value"), r_unit)
    spec = ranges().get(loinc)
    if not spec:
        return None
    v = in_unit(value, unit, spec["unit"], loinc)
    if v is None:
        return None
    lo, hi = spec["range"]
    return _against(v, lo, hi), _range_text(lo, hi, spec["unit"])


def _range_text(lo, hi, unit: str) -> str:
    u = _unit_text(unit)
    if lo is not None and hi is not None:
        return f"{lo:g}–{hi:g} {u}".strip()
    return (f"≥ {lo:g} {u}" if lo is not None else f"≤ {hi:g} {u}").strip()


def _unit_text(unit: str) -> str:
    return {"mm[Hg]": "mmHg", "Cel": "°C", "/min": "/min", "mL/min/{1.73_m2}": "mL/min/1.73m²", "10*3/uL": "×10³/µL",
            "kg/m2": "kg/m²"}.get(unit or "", unit or "")


def analyte_name(loinc: str, record_display: str, language: str) -> str | None:
    spec = ranges().get(loinc) or {}
    return spec.get(language) or (record_display if language == "en" else None)


def quantities(record: dict):
    """(date, loinc, record display, value, unit, node) of every numeric result, components included."""
    for res in resources(record, "Observation"):
        date = str(res.get("effectiveDateTime") or "")[:10]
        for node in [res, *(res.get("component") or [])]:
            q = node.get("valueQuantity") or {}
            coding = next((c for c in (node.get("code") or {}).get("coding") or []
                           if c.get("system") == "http://loinc.org" and c.get("code")), None)
            value = q.get("value")
            if coding is None or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            unit = q.get("code") if q.get("system") == "http://unitsofmeasure.org" and q.get("code") else q.get("unit")
            yield date, coding["code"], coding.get("display") or "", float(value), unit or "", node


def _round(value: float) -> float:
    """Two decimals: what is shown is what was compared (99.04 mg/dL is above 99 mg/dL)."""
    return round(value, 2)


def _value_text(value: float, unit: str) -> str:
    return f"{value:g} {_unit_text(unit)}".strip()


def interpreted(record: dict, language: str):
    """{date: [(name, value text, status, reference, loinc)]} of results with a known status."""
    panels: dict[str, dict] = {}
    for date, loinc, disp, value, unit, node in quantities(record):
        name = analyte_name(loinc, disp, language)
        got = result_status(loinc, value, unit, node) if name else None
        if got:
            panels.setdefault(date, {})[loinc] = (name, _value_text(_round(value), unit), got[0], got[1], loinc)
    out = {}
    for d, p in panels.items():  # one result per analyte name (blood and serum glucose read the same)
        by_name: dict[str, tuple] = {}
        for row in sorted(p.values(), key=lambda r: r[4]):
            by_name.setdefault(row[0], row)
        out[d] = sorted(by_name.values())
    return out


def lab_line(name: str, value: str, status: str | None, reference: str, language: str) -> str:
    if status is None:
        return f"- {name}: {value}"
    s = STATUS[language][status]
    if language == "zh":
        return f"- {name}: {value}（{s}{'；参考范围 ' + reference if reference else ''}）"
    return f"- {name}: {value} ({s}{'; reference ' + reference if reference else ''})"


@register_builder("lab_interpretation")
def lab_interpretation(record, task, ctx):
    """Latest panel (same date, at least three results with a status) -> high/low/normal per result."""
    for lang in task_languages(task):
        panels = interpreted(record, lang)
        for date in sorted((d for d, p in panels.items() if len(p) >= 3), reverse=True)[:1]:
            rows = panels[date]
            panel = "\n".join(lab_line(n, v, None, "", lang) for n, v, _, _, _ in rows)
            answer = "\n".join(lab_line(n, v, s, r, lang) for n, v, s, r, _ in rows)
            ex = base(record, task, parts=[date, *[r[4] for r in rows]], language=lang, modality="structured")
            ex.update({"set": "sft", "messages": _turns(prompt("lab_interpretation", lang, who=who(record, date, lang),
                                                               date=date, panel=panel), answer),
                       "lab_rows": [list(r) for r in rows]})
            yield ex


def _turns(q: str, a: str) -> list[dict]:
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def _point_key(point: tuple) -> tuple:
    import orjson

    date, value, unit, node, disp = point
    return date, value, unit, disp, orjson.dumps(node, option=orjson.OPT_SORT_KEYS)


TREND = {"en": {"up": "rising", "down": "falling", "flat": "stable"}, "zh": {"up": "上升", "down": "下降", "flat": "稳定"}}


@register_builder("chronic_review")
def chronic_review(record, task, ctx):
    """A disease's results over time -> the latest against its range and the trend, naming the disease's
    recorded ICD-10 code (so the example is about its cell's disease)."""
    from transforms.tiering.matrix import icd10_matches

    spec = table("chronic_review.yaml")["diseases"].get(task.get("disease"))
    patterns = (task.get("disease_patterns") or {}).get(task.get("disease")) or []
    if not spec or not patterns:
        return
    for lang in task_languages(task):
        conds = sorted({got for res in resources(record, "Condition") for got in [diagnosis(res, lang)]
                        if got and any(icd10_matches(p, got[0]) for p in patterns)})
        if not conds:
            continue
        series: dict[str, list] = {}
        for date, loinc, disp, value, unit, node in quantities(record):
            if loinc in spec["loinc"]:
                series.setdefault(loinc, []).append((date, value, unit, node, disp))
        for loinc in spec["loinc"]:
            # by date, value, unit and display; two results alike in all four (a repeated Observation)
            # are ordered by their content, never by comparing the FHIR nodes themselves
            points = sorted(series.get(loinc) or [], key=_point_key)[-6:]
            name = analyte_name(loinc, points[0][4] if points else "", lang)
            if len(points) < 2 or not name:
                continue
            date, value, unit, node, _ = points[-1]
            got = result_status(loinc, value, unit, node)
            if not got:
                continue
            first = points[0][1]
            trend = "flat" if abs(value - first) <= 0.05 * max(abs(first), 1e-9) else ("up" if value > first else "down")
            code, dname = conds[0]
            lines = "\n".join(f"- {d}: {name} {_value_text(_round(v), u)}" for d, v, u, _, _ in points)
            latest = lab_line(name, _value_text(_round(value), unit), got[0], got[1], lang)[2:]
            if lang == "zh":
                answer = f"{answer_line(code, dname)}\n最近一次（{date}）：{latest}\n趋势：{TREND[lang][trend]}（{points[0][0]} 至 {date}）"
            else:
                answer = (f"{answer_line(code, dname)}\nLatest ({date}): {latest}\n"
                          f"Trend: {TREND[lang][trend]} ({points[0][0]} to {date})")
            ex = base(record, task, parts=[loinc, date], language=lang, modality="structured")
            disease_name = (task.get("disease_names") or {}).get(task["disease"], {}).get(lang) or dname
            if lang == "en" and disease_name[1:2].islower():
                disease_name = disease_name[0].lower() + disease_name[1:]  # "followed for hypertension"
            ex.update({"set": "sft", "answer_codes": [code],
                       "messages": _turns(prompt("chronic_review", lang, who=who(record, date, lang).capitalize()
                                                 if lang == "en" else who(record, date, lang),
                                                 disease=disease_name, series=lines), answer)})
            yield ex
            break
