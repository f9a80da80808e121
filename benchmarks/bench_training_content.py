"""Training-content figures of built corpora (issue 16): are the task examples worth training on?

    python benchmarks/bench_training_content.py OUT [OUT ...]

Prints, per corpus and for all together:
* duplicate rate of the example splits: exact (normalised text) and near (MinHash Jaccard >= 0.8 of word
  5-gram / CJK character 5-gram shingles) duplicates of an earlier row, over all rows (goal < 1 %);
* share of (example, disease) pairs whose answer holds a code of that disease (goal 100 %);
* evaluation rows whose reference is contained in their prompt: the whole reference, or at least half of
  its items (lines and ';'-separated items, list marks and 'Label:' heads removed), found verbatim in
  the prompt (goal 0);
* a bag-of-words probe that tells chosen from rejected without the prompt: logistic regression (numpy)
  on word / CJK-character / code counts, 5-fold cross-validated by pair, pointwise (each answer alone)
  and pairwise (which of the two is chosen) (goal <= 0.65);
* Chinese share per builder and split, corruption kinds, and the number of task families;
* pretraining: the share of line occurrences that are lines found in >= 10 % of the text documents.
"""
from __future__ import annotations

import argparse
import glob
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transforms.tiering.matrix import icd10_matches, load_matrix  # noqa: E402

CODE = re.compile(r"\b[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?\b")
SPLITS = ("sft", "preference", "evaluation")


def rows(out: str, split: str) -> list[dict]:
    """Every row of a split family: its text-only and its multimodal table (``schemas.tables.LAYOUT``),
    TRL's preference message lists read as text."""
    from schemas.tables import LAYOUT

    files = sorted(f for table in LAYOUT[split] for f in glob.glob(f"{out}/{table}/*.parquet"))
    return [_as_text(r) for f in files for r in pq.read_table(f).to_pylist()]


def _as_text(r: dict) -> dict:
    for k in ("prompt", "chosen", "rejected"):
        if isinstance(r.get(k), list):
            r[k] = "\n".join(m["content"] for m in r[k])
    return r


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def full_text(r: dict) -> str:
    if r.get("prompt") is not None and r.get("chosen") is not None:
        return "\n".join([r["prompt"], r["chosen"], r["rejected"]])
    return "\n".join(m["content"] for m in r["messages"])


def answer(r: dict) -> str:
    if r.get("chosen") is not None:
        return r["chosen"]
    if r.get("reference") is not None:
        return r["reference"]
    return r["messages"][-1]["content"]


def prompt_text(r: dict) -> str:
    if r.get("prompt") is not None:
        return r["prompt"]
    return "\n".join(m["content"] for m in r["messages"][:-1] if m["role"] == "user")


def duplicates(items: list[tuple[str, str]], threshold: float = 0.8) -> tuple[int, int]:
    """(exact, near) duplicates of an earlier item among (kind, text) items."""
    from datasketch import MinHash, MinHashLSH

    from transforms.dedup import shingles

    seen, exact = set(), 0
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    near, sigs = 0, {}
    for i, (kind, text) in enumerate(items):
        key = kind + "\x1f" + norm(text)
        if key in seen:
            exact += 1
            continue
        seen.add(key)
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in sorted(shingles(text))])
        found = [j for j in lsh.query(m) if j.split(":", 1)[0] == kind and m.jaccard(sigs[j]) >= threshold]
        if found:
            near += 1
        lsh.insert(f"{kind}:{i}", m)
        sigs[f"{kind}:{i}"] = m
    return exact, near


def reference_items(ref: str) -> list[str]:
    """The facts of a reference: its lines and ';'-separated items, without list marks and 'Label:' heads."""
    items = []
    for line in ref.splitlines():
        line = re.sub(r"^\s*[-*•]\s*", "", line)
        line = re.sub(r"^[A-Za-z\u4e00-\u9fff ]{2,30}[:：]\s*(?=\S)", "", line)
        items += [norm(x) for x in re.split(r"[;；]", line) if len(x.strip()) >= 8]
    return items


def contains_reference(r: dict) -> bool:
    """The whole reference, or at least half of its items, found verbatim in the prompt."""
    p, ref = norm(prompt_text(r)), r.get("reference") or ""
    if norm(ref) and norm(ref) in p:
        return True
    items = reference_items(ref)
    return bool(items) and sum(1 for x in items if x in p) >= len(items) / 2


def tokens(text: str) -> list[str]:
    """Words (lower-cased), numbers, CJK characters and ICD-10 codes (kept as they are)."""
    found = re.findall(r"[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?|[A-Za-z]+|\d+(?:\.\d+)?|[\u4e00-\u9fff]", text)
    return [w if CODE.fullmatch(w) else w.lower() for w in found]


def _features(texts: list[str], vocab: dict | None = None):
    if vocab is None:
        counts = Counter(t for text in texts for t in set(tokens(text)))
        vocab = {t: i for i, t in enumerate(sorted(t for t, n in counts.items() if n >= 2))}
    x = np.zeros((len(texts), len(vocab) + 1))
    for i, text in enumerate(texts):
        for t in tokens(text):
            j = vocab.get(t)
            if j is not None:
                x[i, j] += 1
        x[i, -1] = 1.0  # bias
    return np.log1p(x), vocab


def _fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 400, lr: float = 0.5) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        w -= lr * (x.T @ (p - y) / len(y) + l2 * w)
    return w


def probe(pairs: list[tuple[str, str]], folds: int = 5) -> tuple[float, float]:
    """(pointwise, pairwise) cross-validated accuracy of telling chosen from rejected."""
    if len(pairs) < folds * 2:
        return float("nan"), float("nan")
    idx = np.arange(len(pairs))
    point_ok = pair_ok = 0
    for f in range(folds):
        test = idx[idx % folds == f]
        train = idx[idx % folds != f]
        tr_texts = [pairs[i][0] for i in train] + [pairs[i][1] for i in train]
        xtr, vocab = _features(tr_texts)
        ytr = np.array([1] * len(train) + [0] * len(train), dtype=float)
        w = _fit(xtr, ytr)
        xc, _ = _features([pairs[i][0] for i in test], vocab)
        xr, _ = _features([pairs[i][1] for i in test], vocab)
        point_ok += int(((xc @ w) > 0).sum() + ((xr @ w) <= 0).sum())
        d = xc - xr
        dtr = xtr[:len(train)] - xtr[len(train):]
        xd = np.vstack([dtr, -dtr])
        wd = _fit(xd, np.array([1] * len(train) + [0] * len(train), dtype=float))
        pair_ok += int(((d @ wd) > 0).sum())
    return point_ok / (2 * len(pairs)), pair_ok / len(pairs)


def boilerplate_share(out: str, share: float = 0.1) -> tuple[float, int]:
    """Share of pretraining line occurrences that are lines found in >= ``share`` of the text documents."""
    from transforms.quality.boilerplate import line_key

    docs = [r["text"] for f in sorted(glob.glob(f"{out}/pretraining/*.parquet"))
            for r in pq.read_table(f, columns=["text", "modality"]).to_pylist() if r["modality"] == "text"]
    df = Counter(k for text in docs for k in {line_key(line) for line in text.splitlines()} - {""})
    lines = [line_key(line) for text in docs for line in text.splitlines() if line_key(line)]
    frequent = {k for k, n in df.items() if n >= share * len(docs)}
    return (sum(1 for k in lines if k in frequent) / len(lines) if lines else 0.0), len(docs)


def report(name: str, data: dict, matrix) -> None:
    patterns = {d["id"]: d.get("icd10") or [] for d in matrix.diseases}
    builder_of = {t["id"]: t["builder"] for t in matrix.tasks}
    print(f"== {name}")
    total = sum(len(v) for v in data.values())
    print(f"rows: " + ", ".join(f"{s} {len(data[s])}" for s in SPLITS))
    items = [(s if s == "preference" else "chat", full_text(r)) for s in SPLITS for r in data[s]]
    exact, near = duplicates(items)
    print(f"duplicate rate: {(exact + near) / max(total, 1):.2%} ({exact} exact + {near} near of {total} example rows)")
    pairs_ok = pairs_all = 0
    for s in SPLITS:
        for r in data[s]:
            codes = CODE.findall(answer(r))
            for d in r.get("disease_ids") or []:
                pairs_all += 1
                pairs_ok += any(icd10_matches(p, c) for p in patterns.get(d, []) for c in codes)
    print(f"disease-cell examples whose answer holds the disease's code: {pairs_ok}/{pairs_all}"
          f" = {pairs_ok / max(pairs_all, 1):.1%}")
    bad = [r for r in data["evaluation"] if contains_reference(r)]
    print(f"evaluation rows whose reference is in their prompt: {len(bad)} of {len(data['evaluation'])}")
    pairs = [(r["chosen"], r["rejected"]) for r in data["preference"]]
    point, pair = probe(pairs)
    print(f"bag-of-words probe, chosen vs rejected without the prompt ({len(pairs)} pairs): pointwise "
          f"{point:.3f}, pairwise {pair:.3f}")
    print("corruption kinds: " + ", ".join(f"{k} {n}" for k, n in Counter(r.get("corruption") for r in
                                                                        data["preference"]).most_common()))
    share: dict = defaultdict(lambda: [0, 0])
    for s in SPLITS:
        for r in data[s]:
            b = builder_of.get(r.get("task_id"), r.get("task_id") or "?")
            share[b][0] += r["language"] == "zh"
            share[b][1] += 1
    print("Chinese share per builder: " + ", ".join(f"{b} {z}/{n} ({z / n:.0%})" for b, (z, n) in sorted(share.items())))
    families = sorted(b for b in share if b != "near_miss_pairs") + (["near_miss_pairs"] if "near_miss_pairs" in share else [])
    print(f"task families with rows: {len(families)}: {', '.join(families)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+")
    ap.add_argument("--matrix", default=None)
    args = ap.parse_args()
    matrix = load_matrix(args.matrix)
    merged = {s: [] for s in SPLITS}
    for out in args.corpora:
        data = {s: rows(out, s) for s in SPLITS}
        report(out, data, matrix)
        for s in SPLITS:
            merged[s] += data[s]
        b, n = boilerplate_share(out)
        print(f"pretraining: {b:.1%} of line occurrences are lines found in >= 10 % of the {n} text documents")
    if len(args.corpora) > 1:
        report("all corpora", merged, matrix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
