"""Deduplication in Beam: exact hashing, then MinHash LSH with distributed connected components.

* Exact: SHA-256 of the normalised text (NFKC, case-folded, whitespace collapsed), combined per
  key (one document and the other ids kept, never every copy's text); the smallest doc_id
  represents the group.
* Near: a ``datasketch`` MinHash signature per exact representative (word 5-gram shingles for
  Latin text, character 5-grams for Chinese), ``bands x rows`` band keys through GroupByKey,
  candidate pairs verified by the signatures' estimated Jaccard similarity, then connected
  components by iterative min-label propagation as Beam joins (a fixed number of unrolled
  rounds; no single-worker union-find). The component's smallest doc_id is its representative.

Policy: every near-duplicate cluster keeps one document, whether its members belong to one patient
(copy-forward notes collapse) or to many (a shared template is counted and kept once).
Output: ``(doc_id, {"cluster_id", "representative", "kind": unique|exact|near})`` for every input.
"""
from __future__ import annotations

import hashlib
from typing import Any, Tuple
import re
import unicodedata

import apache_beam as beam
import numpy as np

NUM_PERM = 128
SEED = 1
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def shingles(text: str, n: int = 5) -> set[str]:
    t = normalize(text)
    cjk = sum(1 for c in t if _is_cjk(c))
    if cjk > len(t) / 4:
        chars = [c for c in t if not c.isspace()]
        grams = {"".join(chars[i:i + n]) for i in range(max(1, len(chars) - n + 1))}
    else:
        words = re.findall(r"\w+", t)
        grams = {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}
    return {g for g in grams if g}


def minhash_signature(text: str, num_perm: int = NUM_PERM) -> np.ndarray:
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=SEED)
    m.update_batch([s.encode("utf-8") for s in sorted(shingles(text))])
    return m.hashvalues.astype(np.uint64)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[str]:
    return [f"{b}:" + hashlib.blake2b(sig[b * rows:(b + 1) * rows].tobytes(), digest_size=12).hexdigest()
            for b in range(bands)]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


class _ExactRepresentative(beam.CombineFn):
    """Documents with one normalised text -> (the smallest doc_id's document, the other doc_ids).

    A combiner, not a GroupByKey: a worker holds one document and a list of ids per text however
    many copies of it the input has (a template note repeated a million times is a million ids,
    not a million texts), and partial results combine before the shuffle.
    """

    def create_accumulator(self):
        return None, []

    def add_input(self, acc, doc):
        rep, others = acc
        if rep is None:
            return doc, others
        if doc["doc_id"] < rep["doc_id"]:
            return doc, others + [rep["doc_id"]]
        others.append(doc["doc_id"])
        return rep, others

    def merge_accumulators(self, accs):
        rep, others = None, []
        for r, ids in accs:
            others.extend(ids)
            if r is None:
                continue
            if rep is None or r["doc_id"] < rep["doc_id"]:
                if rep is not None:
                    others.append(rep["doc_id"])
                rep = r
            else:
                others.append(r["doc_id"])
        return rep, others

    def extract_output(self, acc):
        return acc


def _exact_groups(item):
    _, (rep, others) = item
    for doc_id in sorted(others):
        yield beam.pvalue.TaggedOutput("dups", (doc_id, {"cluster_id": rep["doc_id"], "representative": False,
                                                         "kind": "exact"}))
    yield rep, bool(others)


class _Sign(beam.DoFn):
    def __init__(self, bands: int, rows: int):
        super().__init__()
        self.bands, self.rows = bands, rows

    def process(self, item):
        doc, had_exact = item
        sig = minhash_signature(doc["text"], self.bands * self.rows)
        yield beam.pvalue.TaggedOutput("nodes", (doc["doc_id"], had_exact))
        for key in band_keys(sig, self.bands, self.rows):
            yield key, (doc["doc_id"], sig.tobytes())


class _Pairs(beam.DoFn):
    """Verified edges from one LSH bucket (large buckets pair each member with the smallest id)."""

    def __init__(self, threshold: float, max_bucket: int = 200):
        super().__init__()
        self.threshold, self.max_bucket = threshold, max_bucket

    def process(self, item):
        _, members = item
        members = sorted(set(members))
        if len(members) < 2:
            return
        sigs = {d: np.frombuffer(s, dtype=np.uint64) for d, s in members}
        ids = sorted(sigs)
        if len(ids) > self.max_bucket:
            pairs = [(ids[0], x) for x in ids[1:]]
        else:
            pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
        for a, b in pairs:
            if jaccard(sigs[a], sigs[b]) >= self.threshold:
                yield a, b


def _propagate(item):
    node, grouped = item
    labels = grouped["label"]
    own = min(labels) if labels else node
    yield node, own
    for neighbour in grouped["edge"]:
        yield neighbour, own


class _Finish(beam.DoFn):
    def process(self, item):
        node, grouped = item
        label = min(grouped["label"])
        flags = grouped["had_exact"]
        kind = "near" if grouped["in_edge"] else ("exact" if any(flags) else "unique")
        yield node, {"cluster_id": label, "representative": label == node, "kind": kind}


class Deduplicate(beam.PTransform):
    """{doc_id, text, language, patient_key} -> (doc_id, {cluster_id, representative, kind})."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        config = config or {}
        self.threshold = float(config.get("threshold", 0.8))
        self.bands = int(config.get("bands", 16))
        self.rows = int(config.get("rows", 8))
        self.rounds = int(config.get("rounds", 6))

    def expand(self, docs):
        exact = (
            docs
            | "ExactKey" >> beam.Map(lambda d: (hashlib.sha256(normalize(d["text"]).encode()).hexdigest(), d))
            | "ExactGroup" >> beam.CombinePerKey(_ExactRepresentative())
            | "ExactReps" >> beam.FlatMap(_exact_groups).with_output_types(Any).with_outputs("dups", main="reps")
        )
        signed = exact.reps | "Sign" >> beam.ParDo(_Sign(self.bands, self.rows)).with_output_types(
            Tuple[str, Any]).with_outputs("nodes", main="bands")
        edges = (
            signed.bands
            | "Buckets" >> beam.GroupByKey()
            | "Pairs" >> beam.ParDo(_Pairs(self.threshold))
            | "DistinctEdges" >> beam.Distinct()
        )
        both = (
            (edges, edges | "Reverse" >> beam.Map(lambda e: (e[1], e[0])))
            | "Undirected" >> beam.Flatten()
        )
        labels = signed.nodes | "InitLabels" >> beam.Map(lambda n: (n[0], n[0]))
        for i in range(self.rounds):
            labels = (
                {"label": labels, "edge": both}
                | f"Round{i}Join" >> beam.CoGroupByKey()
                | f"Round{i}Send" >> beam.FlatMap(_propagate)
                | f"Round{i}Min" >> beam.CombinePerKey(min)
            )
        in_edge = both | "EdgeNodes" >> beam.Map(lambda e: (e[0], True))
        finished = (
            {"label": labels, "had_exact": signed.nodes, "in_edge": in_edge}
            | "FinishJoin" >> beam.CoGroupByKey()
            | "Finish" >> beam.ParDo(_Finish())
        )
        return (finished, exact.dups) | "AllClusters" >> beam.Flatten()
