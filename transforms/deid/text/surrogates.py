"""Keyed, consistent, realistic surrogates: the same value always gets the same replacement."""
from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache
from pathlib import Path

import yaml

from transforms.deid.text.recognizers import cn_id_check_char

DATA = Path(__file__).resolve().parent / "data"


@lru_cache(maxsize=1)
def pools() -> dict:
    with open(DATA / "names.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _is_cjk(value: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in value)


def _like(out: str, original: str) -> str:
    """``out`` in the letter case of ``original`` (notes written in capitals stay in capitals)."""
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 1:
        return out.upper()
    if letters and all(c.islower() for c in letters):
        return out.lower()
    return out


def _lexicon_first(word: str) -> bool:
    """A single word is replaced by a given name when it is one ("daughter sarah", "wife, rose"),
    else by a family name; a title ("Dr. Chen") asks for a family name (``family=True``)."""
    from transforms.deid.text.lexicon import lexicon

    return word.lower() in lexicon().first


class Surrogates:
    def __init__(self, secret: bytes):
        self.secret = secret

    def _n(self, kind: str, value: str) -> int:
        key = " ".join(value.casefold().split())
        return int.from_bytes(hmac.new(self.secret, f"{kind}\x1f{key}".encode(), hashlib.sha256).digest()[:8], "big")

    def _pick(self, kind: str, value: str, pool: list):
        return pool[self._n(kind, value) % len(pool)]

    def person(self, value: str, sex: str | None = None, zh: bool | None = None, avoid: frozenset = frozenset(),
               family: bool = False) -> str:
        """A keyed surrogate name that never equals the original. Each word maps on its own (given
        names to given names of ``sex`` when known, family names to family names), so "Mary Hulse"
        and a later "Hulse" get the same family name; the letter case of the original is kept."""
        zh = _is_cjk(value) if zh is None else zh
        own = {w.casefold() for w in re.findall(r"\w+", value)} if not zh else set()
        for salt in range(8):
            out = self._person(value, sex, zh, salt, family, frozenset(own) | avoid)
            words = {w.casefold() for w in re.findall(r"\w+", out)}
            if out.replace(" ", "").casefold() != value.replace(" ", "").casefold() and not words & avoid and \
                    not words & own:
                return out
        return "某某" if zh else "Alex Doe"

    def _word(self, kind: str, word: str, pool: list, salt: int, avoid: frozenset) -> str:
        """One name word's surrogate: keyed by the word alone (the same word maps the same way in every
        name), never the word itself or one to avoid ("carol wolfe" never becomes "carol lee")."""
        for extra in range(8):
            key = word if salt == 0 and extra == 0 else f"{word}\x1f{salt}\x1f{extra}" if extra else f"{word}\x1f{salt}"
            out = self._pick(kind, key, pool)
            if out.casefold() not in avoid:
                return out
        return out

    def _person(self, value: str, sex: str | None, zh: bool, salt: int, family: bool = False,
                avoid: frozenset = frozenset()) -> str:
        p = pools()
        key = value if salt == 0 else f"{value}\x1f{salt}"
        given_pool = p["en_given_female"] if sex == "F" else p["en_given_male"] if sex == "M" else \
            p["en_given_female"] + p["en_given_male"]
        if zh and _is_cjk(value):
            zh_given = p["zh_given_female"] if sex == "F" else p["zh_given_male"] if sex == "M" else p["zh_given"]
            return self._pick("zh-family", key, p["zh_family"]) + self._pick("zh-given", key, zh_given)
        words = re.findall(r"[^\s,.]+|[,.]", value)
        names = [w for w in words if w not in (",", ".")]
        if not names:
            return self._pick("en-given", key, given_pool)
        comma = "," in words  # "Hulse, Mary"
        family_index = 0 if comma else len(names) - 1
        out = []
        k = 0
        for w in words:
            if w in (",", "."):
                out.append(w)
                continue
            if len(w) == 1:  # an initial
                out.append(_like(chr(ord("A") + self._n(f"initial{salt}", w) % 26), w))
            elif len(names) == 1:
                first = not family and _lexicon_first(w)
                pool, kind = (given_pool, f"en-given-{sex}") if first else (p["en_family"], "en-family")
                out.append(_like(self._word(kind, w, pool, salt, avoid), w))
            else:
                fam = k == family_index
                pool, kind = (p["en_family"], "en-family") if fam else (given_pool, f"en-given-{sex}")
                out.append(_like(self._word(kind, w, pool, salt, avoid), w))
            k += 1
        text = ""
        for w in out:
            text += w if w in (",", ".") or not text else (" " if not text.endswith(" ") else "") + w
        return text.replace(" ,", ",").replace(",", ", ").replace("  ", " ").strip()

    def place(self, value: str) -> str:
        """A keyed place-like word for the name part of a facility ("VAMC" in "VAMC Hospital")."""
        return " ".join(_like(self._pick("en-place", w, pools()["en_places"]), w) for w in value.split()[:1])

    def address(self, value: str) -> str:
        p = pools()
        if any("\u4e00" <= c <= "\u9fff" for c in value):
            return self._pick("zh-address", value, p["zh_addresses"])
        return f"{self._n('street-no', value) % 9000 + 100} {self._pick('street', value, p['en_streets'])}"

    def city(self, value: str) -> str:
        return _like(self._pick("city", value, pools()["en_cities"]), value)


    def hospital(self, value: str, zh: bool | None = None) -> str:
        p = pools()
        if _is_cjk(value) if zh is None else zh:
            return self._pick("zh-hospital", value, p["zh_hospitals"])
        return self._pick("en-hospital", value, p["en_hospitals"])

    def same_shape(self, kind: str, value: str) -> str:
        """Replace digits by keyed digits and letters by keyed letters, keeping separators. An 18-digit
        result never reads as a Chinese resident ID (check digit valid), an 11-digit one never as a
        Chinese mobile number: the leak gate would rightly take them for leaks."""
        from transforms.deid.text.recognizers import cn_id_checksum_ok

        for salt in range(16):
            out = self._same_shape(kind if salt == 0 else f"{kind}\x1f{salt}", value)
            if not (len(out) == 18 and out[:17].isdigit() and cn_id_checksum_ok(out)) and \
                    not re.fullmatch(r"1[3-9]\d{9}", out):  # nor as a Chinese mobile number
                return out
        return out

    def _same_shape(self, kind: str, value: str) -> str:
        digest = hmac.new(self.secret, f"shape:{kind}\x1f{value}".encode(), hashlib.sha256).digest()
        stream = (digest * (len(value) // len(digest) + 1))
        out = []
        for i, c in enumerate(value):
            b = stream[i]
            if c.isdigit():
                d = str(b % 10)
                if i == 0 and d == "0" and len(value) > 1:
                    d = str(b % 9 + 1)
                out.append(d)
            elif c.isascii() and c.isalpha():
                ch = chr(ord("A") + b % 26)
                out.append(ch if c.isupper() else ch.lower())
            else:
                out.append(c)
        return "".join(out)

    # Surrogates of numbers come from reserved ranges no real identifier uses, so the independent
    # leak scanner (transforms/quality/leak_scan.py) can tell them from leaked originals.
    def ssn(self, value: str) -> str:
        out = self.same_shape("ssn", value)
        return "9" + out[1:] if out else out  # area numbers 900-999 are never issued as SSNs

    def phone(self, value: str) -> str:
        digits = [c for c in value if c.isdigit()]
        shaped = [c if not c.isdigit() else d for c, d in zip(value, self.same_shape("phone", value))]
        idx = [i for i, c in enumerate(value) if c.isdigit()]
        if len(digits) == 11 and digits[0] == "1" or len(digits) == 13 and "".join(digits[:3]) == "861":
            start = 0 if len(digits) == 11 else 2
            if start:
                shaped[idx[0]], shaped[idx[1]] = "8", "6"
            shaped[idx[start]], shaped[idx[start + 1]] = "1", "0"  # 10x: not an allocated mobile prefix
        elif digits and digits[0] == "0":
            area = len(value.split("-")[0].strip("()")) if "-" in value or ")" in value else 3
            for i in idx[:area]:
                shaped[i] = "0"  # area code 000(0): unallocated
        elif len(digits) in (10, 11):
            off = len(digits) - 10
            for j, ch in zip(idx[off + 3:off + 8], "55501"):
                shaped[j] = ch  # 555-01xx: reserved for fiction
        return "".join(shaped)

    def cn_resident_id(self, value: str) -> str:
        body = "99" + self.same_shape("cn-id-area", value[2:6])  # 99: no such province code
        n = self._n("cn-id-birth", value)
        year = 1940 + n % 60
        month = 1 + (n >> 8) % 12
        day = 1 + (n >> 16) % 28
        seq = f"{(n >> 24) % 1000:03d}"
        first17 = f"{body}{year}{month:02d}{day:02d}{seq}"
        return first17 + cn_id_check_char(first17)

    def email(self, value: str) -> str:
        return f"user{self._n('email', value) % 100000:05d}@example.org"
