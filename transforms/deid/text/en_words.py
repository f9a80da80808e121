"""Word classes of English free text for PHI detection: what a token can be, given the lexicon,
the cue lists and the letter case of the note (capitals are evidence only in mixed-case notes)."""
from __future__ import annotations

import threading

from transforms.deid.text.en_tokens import Tok, phrases
from transforms.deid.text.lexicon import Lexicon, lexicon


class WordClasses:
    """The lexicon, the cue lists and the predicates every rule uses; stateless across texts."""


    def __init__(self, lex: Lexicon | None = None):
        self.lex = lex or lexicon()
        c = self.lex.cues
        self.titles = set(c["titles"])
        self.male = set(c["male_titles"])
        self.female = set(c["female_titles"])
        self.credentials = set(c["credentials"])
        self.roles = phrases(c["roles"])
        self.relatives = phrases(c["relatives"])
        self.communication = phrases(c["communication"])
        self.movement = set(c["movement"])
        self.move_preps = set(c["movement_prepositions"])
        self.residence = set(c["residence"])
        self.res_preps = set(c["residence_prepositions"])
        self.facility = phrases(c["facility_words"])
        self.internal = set(c["internal_places"])
        self.generic_places = set(c["generic_place_words"])
        self.deictic_places = set(c["deictic_place_words"])
        self.hospital_departments = phrases(c["hospital_departments"])
        self.units = set(c["ratio_after"])
        self.hospital_names = phrases(c["hospital_names"])
        self.employment = phrases(c["employment"])
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

    @property
    def title_case(self) -> bool:
        return getattr(self._local, "title_case", False)

    @title_case.setter
    def title_case(self, value: bool) -> None:
        self._local.title_case = value

    # ------------------------------------------------------------------ word classes
    def common(self, t: Tok) -> bool:
        return t.common

    def clinical(self, t: Tok) -> bool:
        return t.low in self.lex.clinical

    def listed_name(self, t: Tok) -> bool:
        return self.lex.is_name(t.low)

    def unknown(self, t: Tok) -> bool:
        return t.alpha and not t.common and not self.lex.is_name(t.low)

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
