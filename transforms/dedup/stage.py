"""Dedup stage: keep one deterministic representative per exact or near-duplicate cluster.

Clustering is ``transforms.dedup`` 's ``Deduplicate`` (exact hash + MinHash LSH + distributed
connected components); this stage joins the cluster of every document back by ``doc_id`` and
drops the non-representatives under ``exact_duplicate`` / ``near_duplicate``. Image documents
are not text-deduplicated (their captions are templates); each is its own cluster.
"""
from __future__ import annotations

import apache_beam as beam

from transforms.base import EVENTS, FILTERED, IN, OUT, event

STAGE = "dedup"


class _Keep(beam.DoFn):
    def process(self, item):
        doc_id, grouped = item
        for doc in grouped["doc"]:
            yield event("documents", STAGE, IN, "", doc["source_kind"])
            info = (grouped["cluster"] or [{"cluster_id": doc_id, "representative": True, "kind": "unique"}])[0]
            doc["dedup_cluster"] = info["cluster_id"]
            if info.get("representative", True):
                yield event("documents", STAGE, OUT, "", doc["source_kind"])
                yield doc
            else:
                yield event("documents", STAGE, FILTERED, f"{info.get('kind', 'near')}_duplicate", doc["source_kind"])


def _image_passthrough(doc):
    doc["dedup_cluster"] = doc["doc_id"]
    return doc


class DropDuplicates(beam.PTransform):
    """documents -> {"documents", "events"}."""

    def __init__(self, ctx):
        super().__init__()
        self.config = dict(ctx.config.get("dedup") or {})

    def expand(self, documents):
        from transforms.dedup import Deduplicate

        texts = documents | "TextDocs" >> beam.Filter(lambda d: d["modality"] != "image")
        images = documents | "ImageDocs" >> beam.Filter(lambda d: d["modality"] == "image")
        if not self.config.get("enabled", True):
            kept = texts | "NoDedup" >> beam.Map(_image_passthrough)
            events = texts | "NoDedupEvents" >> beam.FlatMap(
                lambda d: [event("documents", STAGE, IN, "", d["source_kind"]).value,
                           event("documents", STAGE, OUT, "", d["source_kind"]).value])
        else:
            slim = texts | "Slim" >> beam.Map(lambda d: {"doc_id": d["doc_id"], "text": d["text"],
                                                         "language": d["language"], "patient_key": d["patient_key"]})
            clusters = slim | "Cluster" >> Deduplicate(self.config)
            res = (
                {"doc": texts | "KeyDoc" >> beam.Map(lambda d: (d["doc_id"], d)), "cluster": clusters}
                | "JoinClusters" >> beam.CoGroupByKey()
                | "Keep" >> beam.ParDo(_Keep()).with_outputs(EVENTS, main="documents")
            )
            kept, events = res.documents, res[EVENTS]
        images = images | "ImageCluster" >> beam.Map(_image_passthrough)
        image_events = images | "ImageEvents" >> beam.FlatMap(
            lambda d: [event("documents", STAGE, IN, "", d["source_kind"]).value,
                       event("documents", STAGE, OUT, "", d["source_kind"]).value])
        out = (kept, images) | "AllKept" >> beam.Flatten()
        return {"documents": out, "events": (events, image_events) | "DedupEvents" >> beam.Flatten()}
