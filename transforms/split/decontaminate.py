"""Decontamination: drop training items that share n-grams with evaluation data or benchmarks.

N-grams are hashed keys of normalised text (NFKC, case-folded, punctuation stripped): word
n-grams for Latin text (default 13), character n-grams for Chinese (default 20). A reference
shorter than n contributes its whole normalised text as one key when it is long enough to be
distinctive (>= 8 words or >= 15 CJK characters). Matching is a CoGroupByKey on the n-gram keys,
so no worker ever holds all n-grams. Clinical notes are templated: an n-gram found in more than
``max_train_df`` training items is boilerplate, not leakage, and is ignored (0 disables this).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import apache_beam as beam
import orjson

from pipelines.errors import UserError

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def _norm(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _key(s: str) -> str:
    return hashlib.blake2b(s.encode("utf-8"), digest_size=12).hexdigest()


def ngram_keys(text: str, n_words: int = 13, n_cjk: int = 20, *, short_fallback: bool = False) -> set[str]:
    t = _norm(text)
    keys: set[str] = set()
    cjk = "".join(c for c in t if _is_cjk(c))
    if cjk:
        keys |= {_key("c:" + cjk[i:i + n_cjk]) for i in range(len(cjk) - n_cjk + 1)}
        if short_fallback and len(cjk) < n_cjk and len(cjk) >= 15:
            keys.add(_key("C:" + cjk))
    words = [w for w in re.sub(r"[\u4e00-\u9fff]", " ", t).split()]
    keys |= {_key("w:" + " ".join(words[i:i + n_words])) for i in range(len(words) - n_words + 1)}
    if short_fallback and len(words) < n_words and len(words) >= 8:
        keys.add(_key("W:" + " ".join(words)))
    return keys


def load_benchmarks(paths) -> list[dict]:
    out = []
    for path in paths or []:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"benchmark file not found: {path}")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise UserError(f"benchmark {path} line {n} is not valid JSON") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                raise UserError(f"benchmark {path} line {n} has no 'question' string")
            out.append({"benchmark": p.stem, "question": obj["question"], "options": obj.get("options"),
                        "answer": obj.get("answer") if isinstance(obj.get("answer"), str) else None})
    return out


class Decontaminate(beam.PTransform):
    """(train_items (id, text), references (benchmark, text)) -> (id, benchmark) per contaminated item."""

    def __init__(self, n_words: int = 13, n_cjk: int = 20, max_train_df: int = 5):
        super().__init__()
        self.n_words, self.n_cjk, self.max_train_df = n_words, n_cjk, max_train_df

    def expand(self, pcolls):
        train, refs = pcolls
        nw, nc = self.n_words, self.n_cjk

        def train_keys(item):
            item_id, text = item
            for k in ngram_keys(text, nw, nc):
                yield k, item_id
            # short references are matched as whole normalised word / character sequences
            t = _norm(text)
            words = re.sub(r"[\u4e00-\u9fff]", " ", t).split()
            for size in range(8, nw):
                for i in range(0, len(words) - size + 1):
                    yield _key("W:" + " ".join(words[i:i + size])), item_id
            cjk = "".join(c for c in t if _is_cjk(c))
            for size in range(15, nc):
                for i in range(0, len(cjk) - size + 1):
                    yield _key("C:" + cjk[i:i + size]), item_id

        def ref_keys(item):
            bench, text = item
            for k in ngram_keys(text, nw, nc, short_fallback=True):
                yield k, bench

        max_df = self.max_train_df

        def hits(item):
            _, grouped = item
            benches = sorted(set(grouped["ref"]))
            if not benches:
                return
            items = sorted(set(grouped["train"]))
            if max_df and len(items) > max_df:
                return  # template/boilerplate n-gram shared by many training items: not evidence of leakage
            for item_id in items:
                yield item_id, benches[0]

        return (
            {"train": train | "TrainKeys" >> beam.FlatMap(train_keys),
             "ref": refs | "RefKeys" >> beam.FlatMap(ref_keys)}
            | "JoinNgrams" >> beam.CoGroupByKey()
            | "Hits" >> beam.FlatMap(hits)
            | "OnePerItem" >> beam.Distinct()
        )
