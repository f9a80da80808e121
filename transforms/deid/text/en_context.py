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

import threading

from transforms.deid.text.en_names import NameRules
from transforms.deid.text.en_places import PlaceRules
from transforms.deid.text.en_tokens import MEDIUM, WEAK, Found, Span, case_style, merge_spans, tokenize


class EnglishContext(NameRules, PlaceRules):
    """Names, places and hospitals of one text; the lexicon is shared by the process."""

    def find(self, text: str) -> list[tuple[int, int, str, float, str | None, str]]:
        """(start, end, kind, score, sex, rule) of every name, place and hospital found."""
        toks = tokenize(text)
        if not toks:
            return []
        lex = self.lex
        for t in toks:
            t.common = t.low in lex.common
        self.style = case_style(toks)
        words = [t for t in toks if t.alpha and len(t.text) > 1]
        # "Line Provider Payment Amount": a title-case label, its capitals say nothing about names
        self.title_case = self.style == "mixed" and len(words) <= 12 and sum(t.cap for t in words) >= 0.8 * len(words)
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
        return [(toks[s.start].start, toks[s.end - 1].end, s.kind, s.score, s.sex, s.rule) for s in merge_spans(spans)]

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
            if short or (self.title_case and self.lex.is_english(t.low) and t.low not in self.lex.first
                         and not (t.i > 0 and toks[t.i - 1].low in self.lex.first and toks[t.i - 1].cap)):
                return
            if self.style == "mixed" and not t.cap:
                return
            if self.style != "mixed" and t.low not in self.lex.cities and (
                    self.lex.is_inflection(t.low) or t.low in self.lex.english_non_nouns):
                return  # "SENSING", "obey": capitals carry no evidence, an English verb or adjective is no name
            kind = "LOCATION" if t.low in self.lex.cities else "PERSON"
            found.add(toks, t.i, t.i + 1, kind, WEAK + 0.1, None, "name-list")
            return
        if self.proper(t) and not self.common(t) and len(t.low) >= 3 and not t.upper and not self.lex.is_english(t.low):
            found.add(toks, t.i, t.i + 1, "PERSON", WEAK, None, "proper")

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
