"""Names and places in English clinical notes, found from context and word lists (no record needed).

Real notes name clinicians, relatives, wards and other hospitals in every case style ("DR RIDLON
AWARE", "son rob lives in parkville", "Dr. Arthur Wilson"). The rules, in the order they run:

1. cues before a name: titles ("Dr.", "Mrs"), roles ("nurse leslie"), relatives ("daughter Liz"),
   communication ("spoke with Mary Hulse"); cues after a name: credentials ("irene snell, rn"),
   "aware"/"notified" ("Toolis aware");
2. places after movement words ("transferred to Quartermain 2", "from VAMC"), residence words
   ("lives alone in white marsh"), before facility words ("Chester River Heart Center");
3. word lists alone: a census first or last name that is not an English or clinical word, a city;
   in mixed-case text also an unknown capitalised word inside a sentence;
4. extension to the neighbouring name parts and initials, then propagation: a name found once is
   found everywhere in the note.

Clinical words (the terminology stage's vocabulary and clinical abbreviations) are never taken on
lexical evidence alone. Cue lists live in ``data/en_cues.yaml``; word lists in ``lexicon.py``.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from transforms.deid.text.lexicon import Lexicon, lexicon

TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*|[^\sA-Za-z0-9]")
SENTENCE_END = set(".!?:;\n")
_NAME_WITH_NUMBER = re.compile(r"[A-Za-z][a-z'A-Z-]*\d{0,4}")
_APOSTROPHE_NAME = re.compile(r"[A-Za-z]'[A-Za-z]{2,}")  # O'Connell, D'Angelo (not rec'd, con't)

#: evidence strength -> score of the span (Presidio threshold is 0.5)
STRONG, MEDIUM, WEAK = 0.95, 0.85, 0.6


@dataclass
class Tok:
    i: int
    start: int
    end: int
    text: str
    low: str  # lower case, possessive "'s" removed
    alpha: bool
    cap: bool  # starts with an upper-case letter
    upper: bool  # all upper case
    sent_start: bool  # first word of a sentence or line
    line_break_before: bool = False
    common: bool = False  # an English or clinical word (set by the detector)


@dataclass
class Span:
    start: int  # token index
    end: int  # token index, exclusive
    kind: str  # PERSON | LOCATION | HOSPITAL
    score: float
    sex: str | None = None
    rule: str = ""


@dataclass
class Found:
    spans: list[Span] = field(default_factory=list)

    def add(self, toks, start, end, kind, score, sex=None, rule=""):
        if start < end:
            self.spans.append(Span(start, end, kind, score, sex, rule))


def tokenize(text: str) -> list[Tok]:
    toks = []
    prev_end = 0
    sent = True
    for m in TOKEN.finditer(text):
        t = m.group()
        gap = text[prev_end:m.start()]
        brk = "\n" in gap
        low = t.lower()
        if low.endswith("'s") and len(low) > 2:
            low = low[:-2]
        alpha = t.isalpha() or bool(_APOSTROPHE_NAME.fullmatch(t)) or (low.isalpha() and t.lower().endswith("'s"))
        toks.append(Tok(len(toks), m.start(), m.end(), t, low, alpha, t[:1].isupper(), t.isupper(),
                        sent or brk, brk))
        sent = t in SENTENCE_END
        prev_end = m.end()
    return toks


def case_style(toks: list[Tok]) -> str:
    """'upper' (shouting notes), 'lower' (no capitals) or 'mixed': capitals carry evidence only in 'mixed'."""
    words = [t for t in toks if t.alpha and len(t.text) > 1]
    if not words:
        return "mixed"
    upper = sum(t.upper for t in words) / len(words)
    caps = sum(t.cap for t in words) / len(words)
    if upper > 0.6:
        return "upper"
    if caps < 0.04:
        return "lower"
    return "mixed"


class EnglishContext:
    """Stateless detector over one text; the lexicon is shared by the process."""

    def __init__(self, lex: Lexicon | None = None):
        self.lex = lex or lexicon()
        c = self.lex.cues
        self.titles = set(c["titles"])
        self.male = set(c["male_titles"])
        self.female = set(c["female_titles"])
        self.credentials = set(c["credentials"])
        self.roles = _phrases(c["roles"])
        self.relatives = _phrases(c["relatives"])
        self.communication = _phrases(c["communication"])
        self.movement = set(c["movement"])
        self.move_preps = set(c["movement_prepositions"])
        self.residence = set(c["residence"])
        self.res_preps = set(c["residence_prepositions"])
        self.facility = _phrases(c["facility_words"])
        self.internal = set(c["internal_places"])
        self.generic_places = set(c["generic_place_words"])
        self.units = set(c["ratio_after"])
        self.hospital_names = _phrases(c["hospital_names"])
        self.employment = _phrases(c["employment"])
        self.ratio_words = set(c["ratio_before"])
        self.function = set(c["function_words"])
        self.female_relatives = set(c["female_relatives"])
        self.male_relatives = set(c["male_relatives"])
        self.cue_words = {w for group in ("titles", "relatives", "roles", "credentials") for w in c[group]
                          if " " not in w}
        self._local = threading.local()  # the case style of the text being read, per thread

    @property
    def style(self) -> str:
        return self._local.style

    @style.setter
    def style(self, value: str) -> None:
        self._local.style = value

    # ------------------------------------------------------------------ word classes
    def common(self, t: Tok) -> bool:
        return t.common

    def clinical(self, t: Tok) -> bool:
        return t.low in self.lex.clinical

    def listed_name(self, t: Tok) -> bool:
        return self.lex.is_name(t.low)

    def unknown(self, t: Tok) -> bool:
        return t.alpha and not t.common and not self.lex.is_name(t.low)

    def is_function(self, t: Tok) -> bool:
        return t.low in self.function or not t.alpha

    def initial(self, toks, i) -> bool:
        t = toks[i]
        return t.alpha and len(t.text) == 1 and (t.cap or self.style != "mixed")

    def proper(self, t: Tok) -> bool:
        """Capitalised inside a sentence in mixed-case text."""
        return self.style == "mixed" and t.cap and not t.sent_start and not (t.upper and len(t.text) <= 4)

    def namey(self, t: Tok, level: str) -> bool:
        """Could ``t`` be (part of) a name, given how strong the surrounding evidence is?"""
        if not t.alpha or len(t.low) < 2 or t.low in self.function:
            return False
        if level == "strong":
            return not (self.clinical(t) and t.low not in self.lex.eponyms and not self.listed_name(t))
        if self.clinical(t) and not (self.style == "mixed" and t.cap and self.listed_name(t)) and \
                not (level == "medium" and t.low in self.lex.abbreviations and self.listed_name(t)):
            return False
        if t.low in self.cue_words:
            return False
        if level == "medium":  # after relatives and roles: first names even when they are English words
            return (self.listed_name(t) and not self.common(t)) or self.unknown(t) or self.proper(t) or \
                (self.style != "mixed" and t.low in self.lex.first and len(t.low) >= 3)
        # weak: after communication verbs, continuation of a name
        if self.style == "mixed" and not t.cap:
            return False
        return (self.listed_name(t) and not self.common(t)) or self.unknown(t) or \
            (self.proper(t) and (self.listed_name(t) or not self.common(t)))

    # ------------------------------------------------------------------ detection
    def find(self, text: str) -> list[tuple[int, int, str, float, str | None]]:
        toks = tokenize(text)
        if not toks:
            return []
        lex = self.lex
        for t in toks:
            t.common = t.low in lex.common
        self.style = case_style(toks)
        found = Found()
        self._titles(toks, found)
        self._credentials(toks, found)
        self._after_cue(toks, found, self.roles, "medium", "role")
        self._after_cue(toks, found, self.relatives, "medium", "relative")
        self._after_cue(toks, found, self.communication, "weak", "communication")
        self._before_awareness(toks, found)
        self._initial_surname(toks, found)
        self._demographics(toks, found)
        self._facilities(toks, found)
        self._movement(toks, found)
        self._residence(toks, found)
        self._employers(toks, found)
        self._lexical(toks, found)
        spans = self._extend(toks, found.spans)
        spans = self._propagate(toks, spans)
        return [(toks[s.start].start, toks[s.end - 1].end, s.kind, s.score, s.sex) for s in _merge(spans)]

    def _name_run(self, toks, i, level, allow_initial=True) -> int:
        """End (exclusive) of a name that starts at token ``i``; ``i`` when there is none."""
        j = i
        n = len(toks)
        # optional initial ("B. GILL", "K ABRAMS")
        if allow_initial and j < n and self.initial(toks, j) and j + 1 < n:
            k = j + 1 + (1 if toks[j + 1].text == "." else 0)
            if k < n and self.namey(toks[k], level) and not toks[k].line_break_before:
                j = k
        if j >= n or not self.namey(toks[j], level):
            return i
        end = j + 1
        while end < n and not toks[end].line_break_before:  # more parts: "Arthur Wilson", "RETTERER-MOORE"
            t = toks[end]
            if t.text == "-" and end + 1 < n and self.namey(toks[end + 1], "weak"):
                end += 2
                continue
            if self.initial(toks, end) and end + 2 < n and toks[end + 1].text == "." and \
                    self.namey(toks[end + 2], "weak"):
                end += 3
                continue
            if (self.namey(t, "weak") or (self.proper(t) and t.low not in self.function and t.low not in self.cue_words)) \
                    and not self.clinical(t):
                end += 1  # "Janet Gateman": a capitalised word after a name is its next part
                continue
            break
        return end

    def _titles(self, toks, found):
        n = len(toks)
        for t in toks:
            if t.low not in self.titles or not t.alpha:
                continue
            if self.style == "mixed" and not t.cap and t.low not in ("dr", "mr", "mrs", "ms"):
                continue
            i = t.i + 1
            if i < n and toks[i].text == ".":
                i += 1
            end = self._name_run(toks, i, "strong")
            if end == i and i + 1 < n and self.style == "mixed" and toks[i].cap and toks[i].low in self.lex.first \
                    and toks[i + 1].cap and self.namey(toks[i + 1], "weak"):
                end = self._name_run(toks, i + 1, "strong")  # "Dr Will Cole": a first name that is also a word
                i = i if end > i + 1 else i + 1
            if end > i:
                sex = "M" if t.low in self.male else "F" if t.low in self.female else None
                found.add(toks, i, end, "PERSON", STRONG, sex, "title")
                self._coordinated(toks, end, found, "title")

    def _coordinated(self, toks, end, found, rule):
        """"Dr. Rakusin and Toolis", "daughters sarah and margie"."""
        n = len(toks)
        while end + 1 < n and toks[end].low in ("and", "&", "/", ",", "or") and not toks[end + 1].line_break_before:
            i = end + 1
            if i < n and toks[i].low in self.titles:
                return  # the title rule takes it
            nxt = self._name_run(toks, i, "weak")
            if nxt == i:
                return
            found.add(toks, i, nxt, "PERSON", MEDIUM, None, rule + "+and")
            end = nxt

    def _credentials(self, toks, found):
        for t in toks:
            if t.low not in self.credentials or t.i == 0:
                continue
            j = t.i - 1
            while j >= 0 and (toks[j].text in (",", "/", "-") or toks[j].low in self.credentials):
                j -= 1  # ", rn", "bsn/rn"
            end = j + 1
            parts = 0
            while j >= 0 and parts < 3 and not toks[j + 1].line_break_before:
                tj = toks[j]
                if tj.text == "." and j > 0 and self.initial(toks, j - 1):
                    j -= 2
                    parts += 1
                    continue
                if self.initial(toks, j) or self.namey(tj, "medium"):
                    parts += 1
                    j -= 1
                    continue
                break
            start = j + 1
            while start < end and not toks[start].alpha:
                start += 1
            if start < end and any(toks[k].alpha and len(toks[k].text) > 1 for k in range(start, end)):
                found.add(toks, start, end, "PERSON", MEDIUM, None, "credential")

    def _after_cue(self, toks, found, phrases, level, rule):
        n = len(toks)
        for i in range(n):
            length = _match_phrase(toks, i, phrases)
            if not length:
                continue
            if self.style == "mixed" and rule == "relative" and toks[i].upper and len(toks[i].text) <= 3:
                continue  # "HCP" in a mixed note is the cue only when written as a word
            j = i + length
            while j < n and (toks[j].text in (",", "(", ":", "-", "=", "#") or toks[j].low in
                             ("named", "name", "person", "is", "was")) and not toks[j].line_break_before:
                j += 1
            if j < n and toks[j].low in self.titles:
                continue
            end = self._name_run(toks, j, level)
            if end > j:
                sex = "F" if toks[i].low in self.female_relatives else "M" if toks[i].low in self.male_relatives else None
                found.add(toks, j, end, "PERSON", MEDIUM if level == "medium" else WEAK + 0.1, sex, rule)
                if rule == "relative":
                    self._coordinated(toks, end, found, rule)

    def _initial_surname(self, toks, found):
        """"Z. MILLER in to strip tubes", "E. WELSH aware": an initial with a period, then a surname."""
        n = len(toks)
        for t in toks:
            if not (t.alpha and len(t.text) == 1 and t.text.isupper()) or t.i + 2 >= n or toks[t.i + 1].text != ".":
                continue
            c = toks[t.i + 2]
            if c.alpha and c.low in self.lex.last and not self.clinical(c) and c.low not in self.function \
                    and c.low not in self.cue_words and (c.cap or self.style == "lower") and len(c.low) >= 3:
                found.add(toks, t.i, t.i + 3, "PERSON", MEDIUM, None, "initial")

    def _demographics(self, toks, found):
        """"Celinda332 Vivian245 is a 18 year-old", "Jones is a 67 yo man": the subject of an age
        statement is the patient's name (a trailing record number such as Synthea's is part of it)."""
        n = len(toks)
        for t in toks:
            if t.low != "is" or t.i + 3 >= n or toks[t.i + 1].low not in ("a", "an"):
                continue
            age = toks[t.i + 2]
            nxt = toks[t.i + 3].low
            if not (age.text.isdigit() and (nxt in ("year", "yo", "y", "yr", "years") or nxt.startswith("year"))):
                continue
            j = t.i - 1
            while j >= 0 and t.i - j <= 3 and not toks[j + 1].line_break_before and _NAME_WITH_NUMBER.fullmatch(toks[j].text) \
                    and toks[j].text[:1].isupper() and toks[j].low.rstrip("0123456789") not in self.function \
                    and toks[j].low.rstrip("0123456789") not in self.cue_words and not self.clinical(toks[j]):
                j -= 1
            if j + 1 < t.i:
                found.add(toks, j + 1, t.i, "PERSON", MEDIUM, None, "demographics")

    def _before_awareness(self, toks, found):
        for t in toks:
            if t.low in ("aware", "notified", "paged", "informed") and t.i > 0:
                p = toks[t.i - 1]
                if self.namey(p, "weak") and (self.listed_name(p) or self.unknown(p)) and not self.common(p):
                    found.add(toks, p.i, p.i + 1, "PERSON", MEDIUM, None, "aware")

    def _place_ok(self, t: Tok, first: bool) -> bool:
        """Could ``t`` be part of a place name right after a place cue?"""
        if not t.alpha or t.low in self.internal or t.low in self.function or t.low in self.generic_places:
            return False
        if first and self.clinical(t) and t.low not in self.lex.eponyms:
            return False
        if t.low in self.lex.states and first:
            return False
        if self.style == "mixed":
            return t.cap and not (t.sent_start and self.common(t))
        if not self.common(t) or t.low in self.lex.cities or self.listed_name(t):
            return True
        return self.style == "upper" and len(t.low) <= 5  # "GH", "VAMC": short all-caps place codes

    def _place_run(self, toks, i, max_len=4) -> int:
        end = i
        n = len(toks)
        while end < n and end - i < max_len and not (end > i and toks[end].line_break_before):
            t = toks[end]
            if self._place_ok(t, end == i) or (end > i and (t.low in self.lex.states or
                                                           (self.style == "mixed" and t.cap and t.alpha
                                                            and t.low not in self.function
                                                            and not _match_phrase(toks, end, self.facility)))):
                end += 1
                continue
            break
        return end

    def _movement(self, toks, found):
        n = len(toks)
        for t in toks:
            if t.low not in self.movement:
                continue
            i = t.i + 1
            if i < n and toks[i].low in self.move_preps:
                i += 1
                if i < n and toks[i].low == "the":
                    i += 1
                if i + 1 < n and toks[i].text.isdigit() and len(toks[i].text) <= 4 and toks[i + 1].alpha:
                    i += 1  # "to 209 quartermain": a room number before the ward
                if i < n and self.style != "lower" and not toks[i].line_break_before:
                    end = self._place_run(toks, i)
                    if end > i:
                        kind = "HOSPITAL" if end < n and (toks[end].text.isdigit() or _match_phrase(
                            toks, end, self.facility)) else "LOCATION"
                        found.add(toks, i, end, kind, MEDIUM, None, "movement")
                elif i < n and self.unknown(toks[i]) and toks[i].low not in self.internal:
                    found.add(toks, i, i + 1, "LOCATION", MEDIUM, None, "movement")

    def _employers(self, toks, found):
        """"works for vista health", "retired from Bethlehem Steel": the employer or school named."""
        n = len(toks)
        for t in toks:
            length = _match_phrase(toks, t.i, self.employment)
            if not length:
                continue
            i = t.i + length
            if i < n and toks[i].low in ("the", "a"):
                i += 1
            end = i
            while end < n and end - i < 4 and toks[end].alpha and toks[end].low not in self.function and \
                    not toks[end].line_break_before and (self.style != "mixed" or toks[end].cap or self.unknown(toks[end])
                                                         or end > i):
                end += 1
            if end > i and any(not self.common(toks[k]) or self.proper(toks[k]) for k in range(i, end)):
                found.add(toks, i, end, "LOCATION", MEDIUM, None, "employer")

    def _residence(self, toks, found):
        n = len(toks)
        for t in toks:
            if t.low not in self.residence:
                continue
            for k in range(t.i + 1, min(n, t.i + 5)):
                if toks[k].text in SENTENCE_END or toks[k].line_break_before:
                    break
                if toks[k].low in self.res_preps:
                    i = k + 1
                    if i < n and toks[i].low == "the":
                        i += 1
                    end = i
                    while end < n and end - i < 3 and toks[end].alpha and toks[end].low not in self.function \
                            and toks[end].low not in self.internal and toks[end].low not in self.generic_places \
                            and not toks[end].line_break_before and not (end == i and toks[end].low in self.lex.states):
                        end += 1
                    if end > i and any(not self.common(toks[x]) or toks[x].low in self.lex.cities
                                       or self.proper(toks[x]) for x in range(i, end)):
                        found.add(toks, i, end, "LOCATION", MEDIUM, None, "residence")
                    break

    def _facilities(self, toks, found):
        for i in range(len(toks)):
            length = _match_phrase(toks, i, self.facility)
            if not length or i == 0:
                continue
            j = i - 1
            chain = []
            while j >= 0 and len(chain) < 5 and not toks[j + 1].line_break_before:
                t = toks[j]
                if t.text == "." and j > 0 and toks[j - 1].low in ("st", "mt"):
                    j -= 1
                    continue
                if t.low == "of" and chain:
                    j -= 1
                    continue
                if t.alpha and t.low not in self.function and t.low not in self.internal and \
                        t.low not in self.generic_places and not _match_phrase(toks, j, self.facility) and \
                        (self.style != "mixed" or t.cap or self.unknown(t)) and not (self.style == "upper" and t.sent_start and
                                                                  self.common(t) and not chain):
                    chain.append(j)
                    j -= 1
                    continue
                break
            while chain and toks[min(chain)].low == "of":
                chain.remove(min(chain))
            if not chain:
                continue
            start = min(chain)
            found.add(toks, start, i, "HOSPITAL", MEDIUM, None, "facility")
        self._universities(toks, found)
        self._wards(toks, found)
        self._short_codes(toks, found)
        self._named_hospitals(toks, found)

    def _universities(self, toks, found):
        """"University of Maryland", "U of MD", "UOf Maryland": the whole name (it names a hospital)."""
        n = len(toks)
        for t in toks:
            if t.low not in ("university", "univ", "u", "college", "uof") or t.i + 1 >= n:
                continue
            i = t.i + 1
            if t.low != "uof":
                if toks[i].low != "of":
                    continue
                i += 1
            end = i
            while end < n and end - i < 3 and toks[end].alpha and (toks[end].low not in self.function or
                                                                   toks[end].low in self.lex.states) and \
                    not _match_phrase(toks, end, self.facility) and not toks[end].line_break_before:
                end += 1
            if end > i and (self.style != "mixed" or toks[i].cap or (end < n and _match_phrase(toks, end, self.facility))):
                found.add(toks, t.i, end, "HOSPITAL", MEDIUM, None, "university")

    def _short_codes(self, toks, found):
        """"at GH", "from the GBMC": in mixed-case text an all-capital code after a place preposition
        that is no clinical abbreviation names a hospital."""
        n = len(toks)
        for t in toks:
            if t.low not in ("at", "to", "from", "in", "into", "leave", "via") or t.i + 1 >= n:
                continue
            i = t.i + 1
            if toks[i].low == "the" and i + 1 < n:
                i += 1
            c = toks[i]
            if self.style == "upper" and not (c.alpha and not set(c.low) & set("aeiouy") and
                                              t.low in ("at", "from", "leave", "left")):
                continue  # in capitals only a code with no vowel after "at"/"from" ("FROM THE GBMC")
            if c.alpha and c.upper and 2 <= len(c.text) <= 5 and not self.clinical(c) and c.low not in self.internal \
                    and c.low not in self.function and c.low not in self.lex.states and c.low not in self.cue_words \
                    and c.low not in self.units and c.low not in self.ratio_words:
                found.add(toks, i, i + 1, "HOSPITAL", MEDIUM, None, "code")

    def _named_hospitals(self, toks, found):
        """"St Mary", "Saint Joseph's", "holy cross", "Sacred Heart": saints and the usual hospital names."""
        n = len(toks)
        for t in toks:
            length = _match_phrase(toks, t.i, self.hospital_names)
            if length:
                found.add(toks, t.i, t.i + length, "HOSPITAL", MEDIUM, None, "hospital-name")
                continue
            if t.low in ("st", "saint") and t.i + 1 < n:
                i = t.i + 1 + (1 if toks[t.i + 1].text == "." else 0)
                if i < n and toks[i].alpha and toks[i].low in self.lex.first and toks[i].low not in self.function \
                        and (self.style != "mixed" or toks[i].cap) and not toks[i].line_break_before and \
                        not (i + 1 < n and toks[i + 1].low in ("wort", "wort's")):
                    found.add(toks, t.i, i + 1, "HOSPITAL", MEDIUM, None, "saint")

    def _wards(self, toks, found):
        """"Quartermain 2", "QUARTERMAIN 3": an unknown word followed by a ward number."""
        n = len(toks)
        for t in toks:
            if t.i + 1 >= n or not self.unknown(t) or len(t.low) < 4 or t.low in self.internal:
                continue
            nxt = toks[t.i + 1]
            after = toks[t.i + 2] if t.i + 2 < n else None
            if nxt.text.isdigit() and len(nxt.text) <= 2 and not nxt.line_break_before and (
                    after is None or after.line_break_before or after.text in (".", ",", ";", ")")
                    or (after.low in self.function and after.low not in self.units)):
                found.add(toks, t.i, t.i + 1, "HOSPITAL", MEDIUM, None, "ward")

    def _lexical(self, toks, found):
        n = len(toks)
        i = 0
        while i < n:
            t = toks[i]
            if not t.alpha:
                i += 1
                continue
            for size in (3, 2):  # "glen burnie", "ellicott city"
                if i + size <= n and all(toks[k].alpha for k in range(i, i + size)):
                    phrase = " ".join(toks[k].low for k in range(i, i + size))
                    if phrase in self.lex.cities and (self.style != "mixed" or t.cap):
                        found.add(toks, i, i + size, "LOCATION", MEDIUM, None, "city")
                        i += size
                        break
            else:
                self._lexical_word(toks, t, found)
                i += 1

    def _lexical_word(self, toks, t, found):
        if self.clinical(t) or t.low in self.function or len(t.low) < 2 or t.low in self.cue_words:
            return
        short = len(t.low) <= 3 or (t.upper and len(t.low) <= 4 and self.style == "mixed")
        if t.low in self.lex.cities and not self.common(t) and not self.listed_name(t):
            if not short and (self.style != "mixed" or t.cap):
                found.add(toks, t.i, t.i + 1, "LOCATION", WEAK + 0.1, None, "city")
            return
        if self.listed_name(t) and not self.common(t):
            if short:
                return
            if self.style == "mixed" and not t.cap:
                return
            if self.style != "mixed" and self.lex.is_inflection(t.low) and t.low not in self.lex.cities:
                return  # "SENSING", "SETTLES": capitals carry no evidence, an inflected English word is no name
            kind = "LOCATION" if t.low in self.lex.cities else "PERSON"
            found.add(toks, t.i, t.i + 1, kind, WEAK + 0.1, None, "name-list")
            return
        if self.proper(t) and not self.common(t) and len(t.low) >= 3 and not t.upper and not self.lex.is_english(t.low):
            found.add(toks, t.i, t.i + 1, "PERSON", WEAK, None, "proper")

    def _extend(self, toks, spans: list[Span]) -> list[Span]:
        out = []
        n = len(toks)
        for s in spans:
            if s.kind != "PERSON":
                out.append(s)
                continue
            start, end = s.start, s.end
            while end < n and not toks[end].line_break_before and toks[end].alpha and \
                    self.namey(toks[end], "weak") and not self.clinical(toks[end]) and \
                    (self.listed_name(toks[end]) or self.unknown(toks[end])) and not self.common(toks[end]):
                end += 1
            while start > 0 and not toks[start].line_break_before:
                p = toks[start - 1]
                if p.text == "." and start > 1 and self.initial(toks, start - 2):
                    start -= 2
                    continue
                if p.alpha and p.low in self.lex.first and p.low not in self.function and not self.clinical(p) \
                        and (self.style != "mixed" or p.cap) and p.low not in self.titles:
                    start -= 1
                    continue
                break
            out.append(Span(start, end, s.kind, s.score, s.sex, s.rule))
        return out

    def _propagate(self, toks, spans: list[Span]) -> list[Span]:
        """A name or place found with context is found at every other mention in the note: in any
        letter case when it is no English word, written the same way (capitalised) when it is."""
        names = {}
        exact = {}
        for s in spans:
            if s.score < MEDIUM:
                continue
            for k in range(s.start, s.end):
                t = toks[k]
                if t.alpha and len(t.low) >= 2 and t.low not in self.function and t.low not in self.cue_words:
                    names.setdefault(t.low, (s.kind, s.score, s.sex))
                    if t.cap:
                        exact.setdefault(t.text, (s.kind, s.score, s.sex))
        if not names:
            return spans
        covered = {k for s in spans for k in range(s.start, s.end)}
        out = list(spans)
        for t in toks:
            if t.i in covered or t.low not in names:
                continue
            if self.common(t) or self.clinical(t):
                hit = exact.get(t.text) if t.cap and (self.style != "mixed" or not t.sent_start) else None
                if not hit:
                    continue
                kind, score, sex = hit
            else:
                kind, score, sex = names[t.low]
            out.append(Span(t.i, t.i + 1, kind, min(score, MEDIUM), sex, "propagated"))
        return out


_DETECTOR: EnglishContext | None = None
_DETECTOR_LOCK = threading.Lock()


def detector() -> EnglishContext:
    """The detector of this process (the lexicon loads once)."""
    global _DETECTOR
    with _DETECTOR_LOCK:
        if _DETECTOR is None:
            _DETECTOR = EnglishContext()
        return _DETECTOR


def _phrases(items: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """{first word: [phrase as words, longest first]} for multi-word cues."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for item in items:
        words = tuple(w for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]", item.lower()))
        if words:
            out.setdefault(words[0], []).append(words)
    for v in out.values():
        v.sort(key=len, reverse=True)
    return out


def _match_phrase(toks, i, phrases) -> int:
    cands = phrases.get(toks[i].low) or phrases.get(toks[i].text.lower())
    if not cands:
        return 0
    for words in cands:
        if i + len(words) <= len(toks) and all(
                toks[i + k].low == w or toks[i + k].text.lower() == w for k, w in enumerate(words)):
            return len(words)
    return 0


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping or touching spans of one kind become one; the stronger kind wins an overlap."""
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    for s in spans:
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                last.end = s.end
            if s.score > last.score:
                last.score, last.kind = s.score, s.kind
            last.sex = last.sex or s.sex
            continue
        out.append(Span(s.start, s.end, s.kind, s.score, s.sex, s.rule))
    return out
