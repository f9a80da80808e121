"""Near-duplicate detection: medcorpus (Beam) vs datatrove's MinHash pipeline, same documents, one run.

Documents: the Synthea clinical notes (base64 text/plain DocumentReference attachments in
../shared/data/fhir/synthea-california) plus synthetic copy-forward variants of a sample of them
(a changed date line, an edited line, an appended sentence) and Chinese notes with small edits.

Ground truth, defined independently of both tools: two documents are duplicates when the exact
Jaccard similarity of their word 5-gram shingle sets (character 5-grams for Chinese) is >= 0.8;
a true duplicate cluster is a connected component of that graph, and every member but the
smallest id should be removed. Precision and recall are over removed documents.

    python benchmarks/bench_dedup.py [--limit N]
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "fhir" / "synthea-california"


def documents(limit: int) -> list[dict]:
    docs = []
    for f in sorted(DATA.glob("*.json.gz")):
        for e in json.loads(gzip.decompress(f.read_bytes()))["entry"]:
            r = e["resource"]
            if r["resourceType"] == "DocumentReference":
                text = base64.b64decode(r["content"][0]["attachment"]["data"]).decode()
                docs.append({"doc_id": f"s{len(docs):05d}", "text": text, "language": "en", "patient_key": f.name[:8]})
        if len(docs) >= limit:
            break
    rng = random.Random(11)
    base = rng.sample(docs, max(1, len(docs) // 5))
    for i, d in enumerate(base):
        lines = d["text"].split("\n")
        edits = [
            lambda ls: ["2024-01-0%d" % (i % 9 + 1)] + ls[1:],
            lambda ls: ls + ["Patient counselled on diet and exercise; will follow up in three months."],
            lambda ls: [l.replace("Patient", "The patient", 1) if j == len(ls) // 2 else l for j, l in enumerate(ls)],
        ]
        v = edits[i % 3](lines)
        docs.append({"doc_id": f"v{i:05d}", "text": "\n".join(v), "language": "en", "patient_key": d["patient_key"]})
    zh = "患者{n}，男，67岁，高血压10年，规律服用氨氯地平，血压控制可。今日复诊，无头晕胸闷，心率78次/分。继续原方案治疗，{m}个月后复查血脂和肾功能。"
    for i in range(40):
        docs.append({"doc_id": f"z{i:05d}a", "text": zh.format(n="某" * (1 + i % 3) + str(i), m=1), "language": "zh",
                     "patient_key": None})
        docs.append({"doc_id": f"z{i:05d}b", "text": zh.format(n="某" * (1 + i % 3) + str(i), m=2), "language": "zh",
                     "patient_key": None})
    return docs


def truth(docs: list[dict], threshold: float = 0.8) -> set[str]:
    from transforms.dedup import shingles

    sets = {d["doc_id"]: shingles(d["text"]) for d in docs}
    ids = sorted(sets)
    parent = {i: i for i in ids}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # exact set-similarity join by prefix filtering: order tokens by global frequency (rarest first);
    # two sets with Jaccard >= t must share a token within their first |s| - ceil(t*|s|) + 1 tokens
    import math
    from collections import Counter

    freq = Counter(tok for s in sets.values() for tok in s)
    index: dict[str, list[str]] = {}
    for i in ids:
        ordered = sorted(sets[i], key=lambda tok: (freq[tok], tok))
        prefix = len(ordered) - math.ceil(threshold * len(ordered)) + 1
        for tok in ordered[:max(1, prefix)]:
            index.setdefault(tok, []).append(i)
    checked = set()
    for members in index.values():
        for x, a in enumerate(members):
            for b in members[x + 1:]:
                pair = (a, b) if a < b else (b, a)
                if pair in checked:
                    continue
                checked.add(pair)
                sa, sb = sets[pair[0]], sets[pair[1]]
                inter = len(sa & sb)
                if inter and inter / len(sa | sb) >= threshold:
                    ra, rb = find(pair[0]), find(pair[1])
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    roots: dict[str, list[str]] = {}
    for i in ids:
        roots.setdefault(find(i), []).append(i)
    return {m for members in roots.values() for m in sorted(members)[1:]}


def run_medcorpus(docs):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.dedup import Deduplicate

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "removed"
        t = time.perf_counter()
        with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
            (p | beam.Create(docs) | Deduplicate({"threshold": 0.8})
             | beam.Filter(lambda kv: not kv[1]["representative"]) | beam.Map(lambda kv: kv[0])
             | beam.io.WriteToText(str(out), shard_name_template=""))
        secs = time.perf_counter() - t
        removed = set(Path(str(out)).read_text().split())
    return removed, secs


def run_datatrove(docs):
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                          MinhashDedupSignature)
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    cfg = MinhashConfig(hash_config=HashConfig(precision=32, hash_fc="sha1"))  # xxhash API changed upstream
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        with open(root / "in" / "docs.jsonl", "w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps({"id": d["doc_id"], "text": d["text"]}, ensure_ascii=False) + "\n")
        t = time.perf_counter()
        s1 = LocalPipelineExecutor(pipeline=[JsonlReader(str(root / "in")), MinhashDedupSignature(
            output_folder=str(root / "sigs"), config=cfg)], tasks=1, logging_dir=str(root / "l1"))
        s2 = LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=str(root / "sigs"),
                                                                 output_folder=str(root / "buckets"), config=cfg)],
                                   tasks=cfg.num_buckets, workers=2, logging_dir=str(root / "l2"), depends=s1)
        s3 = LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=str(root / "buckets"),
                                                                 output_folder=str(root / "ids"), config=cfg)],
                                   tasks=1, logging_dir=str(root / "l3"), depends=s2)
        s4 = LocalPipelineExecutor(pipeline=[JsonlReader(str(root / "in")), MinhashDedupFilter(
            input_folder=str(root / "ids")), JsonlWriter(str(root / "out"))], tasks=1, logging_dir=str(root / "l4"),
            depends=s3)
        s4.run()
        secs = time.perf_counter() - t
        kept = set()
        for f in (root / "out").glob("*"):
            opener = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rt", encoding="utf-8") as fh:
                kept |= {json.loads(line)["id"] for line in fh}
    return {d["doc_id"] for d in docs} - kept, secs


def pr(removed: set, gold: set) -> tuple[float, float]:
    tp = len(removed & gold)
    return tp / max(1, len(removed)), tp / max(1, len(gold))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1500)
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    docs = documents(args.limit)
    gold = truth(docs)
    rows = []
    mc, mc_s = run_medcorpus(docs)
    rows.append(("medcorpus (Beam)", *pr(mc, gold), len(docs) / mc_s))
    try:
        dt, dt_s = run_datatrove(docs)
        rows.append(("datatrove MinHash", *pr(dt, gold), len(docs) / dt_s))
    except ImportError as exc:
        print(f"datatrove not runnable here ({exc}); pip install datatrove tokenizers")
    print(f"{len(docs)} documents, {len(gold)} true duplicates (exact Jaccard of 5-gram shingles >= 0.8)")
    print(f"{'system':<20}{'precision':>10}{'recall':>8}{'docs/s':>9}")
    for name, p, r, rate in rows:
        print(f"{name:<20}{p:>10.3f}{r:>8.3f}{rate:>9.1f}")
    if len(rows) == 2:
        print(f"throughput ratio medcorpus/datatrove: {rows[0][3] / rows[1][3]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
