"""Example-level deduplication, after the builders: one example per exact or near-duplicate cluster.

The same note can feed several tasks (a general and a disease-specific one) and templated notes of
different patients give near-identical examples. Examples are clustered with the corpus's document
deduplicator (``transforms.dedup.Deduplicate``: exact hash, then MinHash LSH at ``dedup.threshold``)
on their full text, separately for chat examples (SFT / evaluation) and preference pairs. The
representative of a cluster is the example of a disease-specific task before a general one, then the
smallest example id; the others are filtered as ``exact_duplicate`` / ``near_duplicate``.
"""
from __future__ import annotations

import apache_beam as beam

from transforms.base import EVENTS, FILTERED, IN, OUT, event

STAGE = "example_dedup"


def example_text(ex: dict) -> str:
    parts = [m.get("content", "") for m in ex.get("messages") or []]
    parts += [ex.get(k) or "" for k in ("prompt", "chosen", "rejected")]
    return "\n".join(p for p in parts if p)


def dedup_key(ex: dict) -> str:
    """Sort key: disease-specific tasks (and imported labels) win over general ones."""
    rank = 0 if ex.get("specific") or ex.get("builder") == "imported_labels" else 1
    return f"{rank}:{ex['example_id']}"


def kind(ex: dict) -> str:
    return "preference" if ex.get("set") == "preference" else "chat"


class _Keep(beam.DoFn):
    def process(self, item):
        _, grouped = item
        for ex in grouped["example"]:
            k = ex.get("set") or "sft"
            yield event("examples", STAGE, IN, "", k)
            info = (grouped["cluster"] or [{"cluster_id": dedup_key(ex), "representative": True, "kind": "unique"}])[0]
            ex["dedup_cluster"] = "x:" + info["cluster_id"].split(":", 1)[-1]
            if info.get("representative", True):
                yield event("examples", STAGE, OUT, "", k)
                yield ex
            else:
                yield event("examples", STAGE, FILTERED, f"{info.get('kind', 'near')}_duplicate", k)


class DedupExamples(beam.PTransform):
    """examples -> {"examples", "events"}."""

    def __init__(self, ctx):
        super().__init__()
        self.config = dict(ctx.config.get("dedup") or {})

    def expand(self, examples):
        from transforms.dedup import Deduplicate

        keyed = examples | "KeyExample" >> beam.Map(lambda ex: (dedup_key(ex), ex))
        if not self.config.get("enabled", True):
            clusters = examples.pipeline | "NoClusters" >> beam.Create([])
        else:
            parts = []
            for k in ("chat", "preference"):
                slim = (keyed | f"Only_{k}" >> beam.Filter(lambda kv, k=k: kind(kv[1]) == k)
                        | f"Slim_{k}" >> beam.Map(lambda kv: {"doc_id": kv[0], "text": example_text(kv[1]),
                                                              "language": kv[1].get("language") or "en",
                                                              "patient_key": kv[1].get("patient_key")}))
                parts.append(slim | f"Cluster_{k}" >> Deduplicate(self.config))
            clusters = tuple(parts) | "AllClusters" >> beam.Flatten()
        res = ({"example": keyed, "cluster": clusters}
               | "JoinClusters" >> beam.CoGroupByKey()
               | "Keep" >> beam.ParDo(_Keep()).with_outputs(EVENTS, main="examples"))
        return {"examples": res.examples, "events": res[EVENTS]}
