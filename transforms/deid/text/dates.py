"""Shift dates written in text by a patient's offset, keeping each date's surface format."""
from __future__ import annotations

import datetime as dt
import re

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)}
ABBR["sept"] = 9
ZH_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
ZH_OUT = "〇一二三四五六七八九"


def _month(name: str) -> int | None:
    n = name.lower().rstrip(".")
    if n in MONTHS:
        return MONTHS.index(n) + 1
    return ABBR.get(n[:4] if n.startswith("sept") else n[:3])


def _safe(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _zh_number(s: str) -> int:
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (ZH_DIGITS.get(tens, 1) if tens else 1) * 10 + (ZH_DIGITS.get(ones, 0) if ones else 0)
    return int("".join(str(ZH_DIGITS[c]) for c in s))


def _zh_write(n: int, year: bool = False) -> str:
    if year:
        return "".join(ZH_OUT[int(c)] for c in str(n))
    if n < 10:
        return ZH_OUT[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else ZH_OUT[tens]) + "十" + (ZH_OUT[ones] if ones else "")


def shift_date_text(value: str, days: int) -> str | None:
    """The same date ``days`` later in the same format, or None when ``value`` is not a full date."""
    if days == 0:
        return value
    v = value.strip()
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})", v)
    if m:
        mo, d, y = int(m[1]), int(m[2]), int(m[3])
        y2 = y if len(m[3]) == 4 else (2000 + y if y < 50 else 1900 + y)
        date = _safe(y2, mo, d)
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        year = str(n.year) if len(m[3]) == 4 else f"{n.year % 100:02d}"
        mw = 2 if m[1].startswith("0") else 1
        dw = 2 if m[2].startswith("0") else 1
        return f"{n.month:0{mw}d}/{n.day:0{dw}d}/{year}"
    m = re.fullmatch(r"(\d{2})(\d{2})(\d{4}|\d{2})", v)
    if m:  # compact MMDDYY / MMDDYYYY ("DOB 052647")
        y = int(m[3]) if len(m[3]) == 4 else (2000 + int(m[3]) if int(m[3]) < 50 else 1900 + int(m[3]))
        date = _safe(y, int(m[1]), int(m[2]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        return f"{n.month:02d}{n.day:02d}" + (str(n.year) if len(m[3]) == 4 else f"{n.year % 100:02d}")
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]+)-(\d{4}|\d{2})", v)
    if m and _month(m[2]):  # 14-Mar-2021
        y = int(m[3]) if len(m[3]) == 4 else (2000 + int(m[3]) if int(m[3]) < 50 else 1900 + int(m[3]))
        date = _safe(y, _month(m[2]), int(m[1]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        year = str(n.year) if len(m[3]) == 4 else f"{n.year % 100:02d}"
        return f"{n.day:0{_width(m[1])}d}-{_month_name(n.month, m[2])}-{year}"
    m = re.fullmatch(r"(\d{1,2})([-.])(\d{1,2})\2(\d{4}|\d{2})", v)
    if m:
        out = shift_date_text(f"{m[1]}/{m[3]}/{m[4]}", days)
        return out.replace("/", m[2]) if out else None
    m = re.fullmatch(r"(\d{1,2})([/-])(\d{1,2})", v)
    if m and _safe(2000, int(m[1]), int(m[3])):  # month/day, no year: a leap reference year keeps 2/29
        n = _safe(2000, int(m[1]), int(m[3])) + dt.timedelta(days=days)
        return f"{n.month:0{_width(m[1])}d}{m[2]}{n.day:0{_width(m[3])}d}"
    m = re.fullmatch(r"(\d{1,2})/(\d{4}|\d{2})", v)
    if m:  # month/year
        y = int(m[2]) if len(m[2]) == 4 else (2000 + int(m[2]) if int(m[2]) < 50 else 1900 + int(m[2]))
        date = _safe(y, int(m[1]), 15)
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        return f"{n.month:0{_width(m[1])}d}/{n.year if len(m[2]) == 4 else f'{n.year % 100:02d}'}"
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(T.*)?", v)
    if m:
        date = _safe(int(m[1]), int(m[2]), int(m[3]))
        if not date:
            return None
        return (date + dt.timedelta(days=days)).isoformat() + (m[4] or "")
    m = re.fullmatch(r"(\d{4})([./])(\d{1,2})[./](\d{1,2})", v)
    if m:
        date = _safe(int(m[1]), int(m[3]), int(m[4]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        mw = 2 if m[3].startswith("0") else 1
        dw = 2 if m[4].startswith("0") else 1
        return f"{n.year}{m[2]}{n.month:0{mw}d}{m[2]}{n.day:0{dw}d}"
    m = re.fullmatch(r"(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*([日号]))?", v)
    if m:
        date = _safe(int(m[1]), int(m[2]), int(m[3] or 15))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        return f"{n.year}年{n.month}月" + (f"{n.day}{m[4]}" if m[3] else "")
    m = re.fullmatch(r"(\d{1,2})\s*月\s*(\d{1,2})\s*([日号])", v)
    if m:  # 3月14日: month and day, no year
        date = _safe(2000, int(m[1]), int(m[2]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        return f"{n.month}月{n.day}{m[3]}"
    m = re.fullmatch(r"([〇零一二三四五六七八九十]{1,2})月([〇零一二三四五六七八九十]{1,3})([日号])", v)
    if m:  # 三月十四日
        date = _safe(2000, _zh_number(m[1]), _zh_number(m[2]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        return f"{_zh_write(n.month)}月{_zh_write(n.day)}{m[3]}"
    m = re.fullmatch(r"([〇零一二三四五六七八九]{4})年(?:([〇零一二三四五六七八九十]{1,2})月)?(?:([〇零一二三四五六七八九十]{1,3})([日号]))?", v)
    if m:
        y = _zh_number(m[1])
        mo = _zh_number(m[2]) if m[2] else 6
        d = _zh_number(m[3]) if m[3] else 15
        date = _safe(y, mo, d)
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        out = _zh_write(n.year, year=True) + "年"
        if m[2]:
            out += _zh_write(n.month) + "月"
        if m[3]:
            out += _zh_write(n.day) + m[4]
        return out
    m = re.fullmatch(r"(?i)([A-Za-z]+)(\.?)\s+(\d{1,2})(st|nd|rd|th)?(?:(\s*,?\s*)(\d{4}))?", v)
    if m and _month(m[1]):
        date = _safe(int(m[6]) if m[6] else 2000, _month(m[1]), int(m[3]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        suffix = _ordinal(n.day) if m[4] else ""
        return f"{_month_name(n.month, m[1])}{m[2]} {n.day}{_case(suffix, m[4] or '')}" + (f"{m[5]}{n.year}" if m[6] else "")
    m = re.fullmatch(r"(?i)(\d{1,2})(st|nd|rd|th)?(\s+of)?\s+([A-Za-z]+)(\.?)(?:(\s*,?\s*)(\d{4}))?", v)
    if m and _month(m[4]):
        date = _safe(int(m[7]) if m[7] else 2000, _month(m[4]), int(m[1]))
        if not date:
            return None
        n = date + dt.timedelta(days=days)
        ordinal = _case(_ordinal(n.day), m[2]) if m[2] else ""
        return f"{n.day}{ordinal}{m[3] or ''} {_month_name(n.month, m[4])}{m[5]}" + (f"{m[6]}{n.year}" if m[7] else "")
    m = re.fullmatch(r"(?i)([A-Za-z]+)(\.?)(?:(\s*,?\s*(?:of\s+)?)(\d{4}))?", v)
    if m and _month(m[1]) and (m[2] or m[1].lower() in MONTHS or m[4]):
        date = _safe(int(m[4]) if m[4] else 2000, _month(m[1]), 15)
        n = date + dt.timedelta(days=days)
        return f"{_month_name(n.month, m[1])}{m[2]}" + (f"{m[3]}{n.year}" if m[4] else "")
    return None


def _width(digits: str) -> int:
    return 2 if digits.startswith("0") else 1


def _case(out: str, like: str) -> str:
    if like.isupper():
        return out.upper()
    if like[:1].isupper():
        return out.capitalize()
    return out.lower()


def _month_name(month: int, like: str) -> str:
    """Month ``month`` written like ``like``: full or abbreviated, and in its letter case."""
    name = MONTHS[month - 1]
    if len(like) <= 4 and like.lower() not in MONTHS:
        name = name[:3]
    return _case(name, like)


def _ordinal(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
