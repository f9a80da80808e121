"""Dates in English clinical text, including the short forms nurses write ("7/22", "4/97", "nov.").

Every date element but the year is PHI under HIPAA Safe Harbor. Full dates, month/day, month/year,
day-month and month-day with names, a month name in a date context and holidays are found; a
slash pair is not a date when the words around it say it is a ratio or a score ("CPAP 5/5",
"2/6 murmur", "1/2 NS", "strength 4/5"; cue lists in ``data/en_cues.yaml``). Years alone are kept.
"""
from __future__ import annotations

import re
from functools import lru_cache

from transforms.deid.text.lexicon import load_cues

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
ABBR = "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_M = rf"(?:{MONTHS}|(?:{ABBR})\.?)"
_D = r"(?:0?[1-9]|[12]\d|3[01])"
_MO = r"(?:0?[1-9]|1[0-2])"
_Y = r"(?:(?:18|19|20)\d{2})"
_ORD = r"(?:st|nd|rd|th)"

NUMERIC_2Y = rf"(?<![\d/.:-]){_MO}/{_D}/\d{{2}}(?![\d/A-Za-z])"
FULL = [
    rf"(?<![\d/.:-]){_MO}/{_D}/{_Y}(?![\d/])",
    rf"(?<![\d/.:-]){_MO}-{_D}-(?:{_Y}|\d{{2}})(?![\d-])",
    rf"(?<![\d/.:-]){_MO}\.{_D}\.{_Y}(?![\d.])",
    rf"(?<![\d-]){_Y}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:T\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}})?)?(?![\d-])",
    rf"(?<![\d/.]){_Y}/(?:0?[1-9]|1[0-2])/{_D}(?![\d/])",
    # month name with day and/or year: "March 21, 1899", "Oct. 20th", "20th Oct, 1989", "march of 2022"
    rf"(?i)(?<![A-Za-z]){_M}\s+{_D}{_ORD}?(?:\s*,?\s*{_Y})?(?![\d])",
    rf"(?i)(?<![\d/]){_D}{_ORD}?\s+(?:of\s+)?{_M}(?:\s*,?\s*{_Y})?(?![A-Za-z])",
    rf"(?i)(?<![A-Za-z]){_M}\s*,?\s*(?:of\s+)?{_Y}(?!\d)",
    rf"(?<![\d/.:-]){_MO}-{_D}(?=\s*-\s*{_MO}-{_D}(?![\d-]))",  # 8-23 - 8-25
    rf"(?i)(?<![\d/.:-]){_D}-(?:{MONTHS}|{ABBR})-(?:{_Y}|\d{{2}})(?![\d-])",  # 14-Mar-2021
    # compact MMDDYY / MMDDYYYY standing alone ("meeting 052647", "DOB 03141952"); counts such as
    # "plt 150000" or "101500" never read as a month, a day and a year other than 00
    r"(?<![\w.,/:-])(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:(?:19|20)\d{2}|(?!00)\d{2})(?![\w/:%-]|[.,]\d)",
]
MONTH_DAY = rf"(?<![\d/:,])(?<!\d\.)(?P<m>{_MO})/(?P<d>{_D})(?![\d/%]|\.\d|,\d)"
_RANGE_LEFT = re.compile(r"(?:^|[^\d/])\d{1,2}/\d{1,2}\s?-\s?$")
MONTH_YEAR = rf"(?<![\d/.:-])(?P<m>{_MO})/(?P<y>{_Y}|[3-9]\d|0\d)(?![\d/%])"
MONTH_ALONE = rf"(?i)(?<![A-Za-z])(?P<m>{MONTHS}|(?:{ABBR})\.)(?![A-Za-z])"
DATE_PREPOSITIONS = {"in", "since", "during", "early", "late", "mid", "until", "till", "by", "of", "last", "next",
                     "this", "on", "from", "through", "thru", "before", "after", "around", "end", "beginning",
                     "start", "middle"}
ORDINAL_DAY = rf"(?i)(?<![A-Za-z])(?:on|since|until|till|by|from|through|thru|after|before)\s+(?:the\s+)?(?P<v>{_D}{_ORD})(?=\s*(?:[.,;:)!?]|$|\n|(?:at|of|and|to|in|when|-)\b))"

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'%:&+-]*")


@lru_cache(maxsize=1)
def _compiled():
    cues = load_cues()
    holidays = sorted(cues["holidays"], key=len, reverse=True)
    hol = r"(?i)(?<![A-Za-z])(?:" + "|".join(re.escape(h) for h in holidays) + r")(?![A-Za-z])"
    return ([re.compile(p) for p in FULL], re.compile(NUMERIC_2Y), re.compile(MONTH_DAY), re.compile(MONTH_YEAR), re.compile(MONTH_ALONE), re.compile(ORDINAL_DAY),
            re.compile(hol), set(cues["ratio_before"]), set(cues["ratio_after"]))


_BOUNDARY = re.compile(r"[.;!?()\[\]\n]")


def _word_before(text: str, start: int) -> str:
    """The word right before ``start`` in the same clause ("" after a full stop or a bracket)."""
    left = text[max(0, start - 30):start]
    cut = list(_BOUNDARY.finditer(left))
    if cut:
        left = left[cut[-1].end():]
    words = _WORD.findall(left)
    return words[-1].lower().rstrip(":") if words else ""


def _word_after(text: str, end: int) -> str:
    m = _WORD.match(text[end:end + 30].lstrip(" \t"))
    return m.group().lower() if m else ""


def find_dates(text: str) -> list[tuple[int, int]]:
    """(start, end) of every date written in ``text``; overlapping finds are merged by the caller."""
    full, numeric_2y, month_day, month_year, month_alone, ordinal, holiday, ratio_before, ratio_after = _compiled()
    spans = []
    for rx in full:
        spans += [m.span() for m in rx.finditer(text)]
    for m in numeric_2y.finditer(text):
        before = _word_before(text, m.start())
        if before not in ratio_before:  # "BIPAP 10/5/12": pressures, not a date
            spans.append(m.span())
    for m in month_day.finditer(text):
        lead = text[max(0, m.start() - 2):m.start()]
        if lead.endswith("-") and lead[:1].isdigit() and not _RANGE_LEFT.search(text[max(0, m.start() - 12):m.start()]):
            continue  # "0-12/5": a range of numbers, not the second date of "6/30-7/2"
        before, after = _word_before(text, m.start()), _word_after(text, m.end())
        if before in ratio_before or after in ratio_after or after.startswith("strength"):
            continue
        if text[max(0, m.start() - 1):m.start()] in ("x", "X") or text[m.end():m.end() + 1] in ("x", "X"):
            continue  # "x1/2", "5/5x"
        if int(m["d"]) <= 5 and m["d"] == m["m"] and before not in DATE_PREPOSITIONS:
            continue  # "5/5", "2/2", "4/4": strength and pulse scores written as dates
        spans.append(m.span())
    for m in month_year.finditer(text):
        y = m["y"]
        if len(y) == 2 and int(y) <= 31 and not y.startswith("0"):
            continue  # "5/13" is month/day
        before, after = _word_before(text, m.start()), _word_after(text, m.end())
        if before in ratio_before or after in ratio_after:
            continue
        spans.append(m.span())
    for m in month_alone.finditer(text):
        word = m["m"]
        low = word.lower().rstrip(".")
        before = _word_before(text, m.start())
        if word.endswith(".") and low not in ("mar", "may", "jun", "jan", "dec"):
            spans.append(m.span())
        elif before in DATE_PREPOSITIONS and low not in ("may",) and not (low == "march" and before in ("to",)):
            spans.append(m.span())
        elif word[0].isupper() and not word.isupper() and low not in ("may", "march", "august", "june", "april") \
                and len(low) > 3:
            spans.append(m.span())
    spans += [m.span("v") for m in ordinal.finditer(text)]
    spans += [m.span() for m in holiday.finditer(text)]
    return spans
