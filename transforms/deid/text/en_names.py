"""Names of people in English notes from context: titles, roles, relation words, communication
verbs, credentials, "aware"/"notified", initials before surnames, the subject of an age statement;
then extension to the neighbouring name parts and initials."""
from __future__ import annotations

import re

from transforms.deid.text.en_tokens import MEDIUM, STRONG, WEAK, Span, match_phrase
from transforms.deid.text.en_words import WordClasses

_NAME_WITH_NUMBER = re.compile(r"[A-Za-z][a-z'A-Z-]*\d{0,4}")
_CALENDAR = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
             "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
             "today", "tonight", "tomorrow", "yesterday"}


class NameRules(WordClasses):
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

    def _coordinated(self, toks, end, found, rule, sex=None):
        """"Dr. Rakusin and Toolis", "daughters sarah and margie"."""
        n = len(toks)
        while end + 1 < n and toks[end].low in ("and", "&", "/", ",", "or") and not toks[end + 1].line_break_before:
            i = end + 1
            if i < n and toks[i].low in self.titles:
                return  # the title rule takes it
            nxt = self._name_run(toks, i, "medium" if rule == "relative" else "weak")
            if nxt == i:
                return
            found.add(toks, i, nxt, "PERSON", MEDIUM, sex, rule + "+and")
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
                if tj.text == "," and parts and j > 0 and toks[j - 1].low in self.lex.last and \
                        not self.clinical(toks[j - 1]) and toks[j - 1].low not in self.function:
                    j -= 1  # "Smith, Jane RN"
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
            length = match_phrase(toks, i, phrases)
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
                    self._coordinated(toks, end, found, rule, sex)  # "daughters sarah and margie"

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

    def _capitalised_next(self, toks, k: int) -> bool:
        """"mother, Janet Gateman": in text that is not all capitals, a capitalised word inside a
        sentence right after a capitalised name part is the next part, even when it is an English word."""
        t, prev = toks[k], toks[k - 1]
        return self.style != "upper" and t.cap and prev.cap and not t.upper and not prev.upper and \
            not t.sent_start and len(t.low) >= 3 and t.low not in self.cue_words and \
            t.low not in _CALENDAR and not match_phrase(toks, k, self.facility)

    def _given_before(self, toks, i: int) -> bool:
        p = toks[i - 1]
        return p.alpha and p.cap and not p.upper and p.low in self.lex.first and p.low not in self.function and \
            p.low not in self.titles and p.low not in self.cue_words and p.low not in _CALENDAR and \
            not toks[i].line_break_before

    def _extend(self, toks, spans: list[Span]) -> list[Span]:
        out = []
        n = len(toks)
        for s in spans:
            if s.kind == "LOCATION" and s.rule in ("city", "name-list") and s.score < MEDIUM and s.start > 0 and \
                    self.style == "mixed" and toks[s.start].cap and self._given_before(toks, s.start):
                s = Span(s.start, s.end, "PERSON", s.score, s.sex, s.rule)  # "Mark Flores": a person, not the island
            if s.kind != "PERSON":
                out.append(s)
                continue
            start, end = s.start, s.end
            while end < n and not toks[end].line_break_before and toks[end].alpha and \
                    (not self.clinical(toks[end]) or self.style == "mixed" and self.listed_name(toks[end]) and
                     self._capitalised_next(toks, end)) and toks[end].low not in self.function and \
                    (self.namey(toks[end], "weak") and (self.listed_name(toks[end]) or self.unknown(toks[end]))
                     and not self.common(toks[end]) or self._capitalised_next(toks, end)):
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
                if self.style == "mixed" and p.alpha and p.cap and not p.upper and toks[start].cap and \
                        not toks[start].upper and p.low in self.lex.first and p.low not in self.function and \
                        p.low not in self.titles and p.low not in self.cue_words and p.low not in _CALENDAR and \
                        p.low not in self.lex.abbreviations:
                    start -= 1  # "Mark Flores", "Amber Edwards": a given name that is also an English word
                    continue
                break
            out.append(Span(start, end, s.kind, s.score, s.sex, s.rule))
        return out
