"""Places in English notes from context: wards and hospitals after movement words, before facility
words, "University of X", saints and well-known hospital names, short hospital codes, towns after
residence words, employers."""
from __future__ import annotations

from transforms.deid.text.en_tokens import MEDIUM, SENTENCE_END, Tok, match_phrase
from transforms.deid.text.en_words import WordClasses


def _call_out(toks, i) -> bool:
    """"c/o to quartermain": an ICU's call-out (transfer) to a ward, not "complains of"."""
    return toks[i].low == "o" and i >= 2 and toks[i - 1].text == "/" and toks[i - 2].low == "c" and \
        i + 1 < len(toks) and toks[i + 1].low == "to"


class PlaceRules(WordClasses):
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
                                                            and not match_phrase(toks, end, self.facility)))):
                end += 1
                continue
            break
        return end

    def _movement(self, toks, found):
        n = len(toks)
        for t in toks:
            if t.low not in self.movement and not _call_out(toks, t.i):
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
                        kind = "HOSPITAL" if end < n and (toks[end].text.isdigit() or match_phrase(
                            toks, end, self.facility)) else "LOCATION"
                        found.add(toks, i, end, kind, MEDIUM, None, "movement")
                elif i < n and self.unknown(toks[i]) and toks[i].low not in self.internal:
                    found.add(toks, i, i + 1, "LOCATION", MEDIUM, None, "movement")

    def _employers(self, toks, found):
        """"works for vista health", "retired from Bethlehem Steel": the employer or school named."""
        n = len(toks)
        for t in toks:
            length = match_phrase(toks, t.i, self.employment)
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
            if end > i and any(not self.common(toks[k]) or self.proper(toks[k]) or
                               (self.style == "lower" and toks[k].cap) for k in range(i, end)):
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
            length = match_phrase(toks, i, self.facility)
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
                if t.alpha and t.low not in self.function and \
                        (t.low not in self.internal and t.low not in self.generic_places or
                         self._proper_generic(toks, j, i)) and \
                        not match_phrase(toks, j, self.facility) and \
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
            if self.style == "mixed" and not toks[i].cap and all(self.common(toks[k]) for k in chain):
                continue  # "High school", "Day clinic": English words before a lower-case facility word
            start = min(chain)
            found.add(toks, start, i, "HOSPITAL", MEDIUM, None, "facility")
        self._universities(toks, found)
        self._wards(toks, found)
        self._short_codes(toks, found)
        self._department_codes(toks, found)
        self._named_hospitals(toks, found)

    def _proper_generic(self, toks, j, head) -> bool:
        """"in General Hospital Medical Center", "at Memorial Hospital": a capitalised generic word before a
        capitalised facility word in text that is not all capitals is part of the hospital's name
        ("Outside Hospital" and "his hospital" are not)."""
        t = toks[j]
        return self.style != "upper" and t.cap and toks[head].cap and not t.sent_start and \
            t.low not in self.deictic_places

    def _department_codes(self, toks, found):
        """"to gh cath lab", "when GH attorneys", "at BMC ED": a short hospital code (ending in H, MC or HC)
        before a hospital department or service names the hospital."""
        n = len(toks)
        for t in toks:
            if not (t.alpha and 2 <= len(t.low) <= 5 and t.low.endswith(("h", "mc", "hc")) and t.i + 1 < n) or \
                    (self.style == "mixed" and not t.upper) or t.low in self.function or t.low in self.cue_words:
                continue
            if match_phrase(toks, t.i + 1, self.hospital_departments) and not toks[t.i + 1].line_break_before:
                found.add(toks, t.i, t.i + 1, "HOSPITAL", MEDIUM, None, "code")

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
                    not match_phrase(toks, end, self.facility) and not toks[end].line_break_before:
                end += 1
            if end > i and (self.style != "mixed" or toks[i].cap or (end < n and match_phrase(toks, end, self.facility))):
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
            length = match_phrase(toks, t.i, self.hospital_names)
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
