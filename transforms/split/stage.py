"""Split stage: patient-grouped splits, evaluation held out first, decontamination, leakage check.

* A keyed hash of ``patient_key`` puts each patient (every document, image and example) into one
  split family, ``train`` or ``evaluation``. Items without a patient use their dedup cluster
  (documents) or example id (imported examples). With ``split.stratify_by`` (``disease``,
  ``source``), patients are grouped by stratum and, within each, the first ``round(ratio * n)``
  by keyed hash are held out, so every stratum gets its share.
* Evaluation is held out first: a patient in the evaluation family contributes evaluation examples
  only; their documents are held out of pretraining and their SFT/preference examples are not
  written (counted under their reasons).
* Decontamination removes from pretraining, SFT and preference anything that shares an n-gram
  with the evaluation set or a user benchmark (counted by benchmark).
* A hard leakage check records any patient_key or dedup cluster that ends in both evaluation and
  a training split; the driver fails the run on it.
* Guideline and literature documents (no patient) follow the split group of the QA examples built
  from them (``doc:<dedup cluster>``): when that group is held out for evaluation, the document is
  held out of pretraining (``held_out_evaluation_source``).
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from transforms.base import EVENTS, FILTERED, IN, OUT, event
from transforms.write.rows import example_row, example_text, pretraining_row

STAGE = "split"
#: standalone document types that QA examples are built from (transforms/tasks/guideline.py)
QA_SOURCE_TYPES = ("document", "guideline", "literature")
TRAINING = ("pretraining", "sft", "preference")


def example_kind(ex: dict) -> str:
    if ex.get("set") in ("sft", "preference", "evaluation"):
        return ex["set"]
    return "preference" if ex.get("chosen") is not None else "sft"


class _AssignDocument(beam.DoFn):
    def __init__(self, secret: bytes, ratios: dict):
        super().__init__()
        self.secret, self.ratios = secret, ratios

    def process(self, doc: dict):
        from transforms.split.assign import split_family

        yield event("documents", STAGE, IN, "", doc["source_kind"])
        if doc.get("patient_key"):
            family = doc.pop("_family", None) or split_family(doc["patient_key"], self.secret, self.ratios)
            if family == "evaluation":
                yield event("documents", STAGE, FILTERED, "held_out_evaluation_patient", doc["source_kind"])
                return
        elif doc.get("doc_type") in QA_SOURCE_TYPES:
            # guideline / literature text whose statements are evaluation questions stays out of training
            group = "doc:" + (doc.get("dedup_cluster") or doc["doc_id"])
            if split_family(group, self.secret, self.ratios) == "evaluation":
                yield event("documents", STAGE, FILTERED, "held_out_evaluation_source", doc["source_kind"])
                return
        yield ("pretraining", pretraining_row(doc))


class _AssignExample(beam.DoFn):
    def __init__(self, secret: bytes, ratios: dict):
        super().__init__()
        self.secret, self.ratios = secret, ratios

    def process(self, ex: dict):
        from transforms.split.assign import split_family

        kind = example_kind(ex)
        yield event("examples", STAGE, IN, "", kind)
        group = ex.get("patient_key") or ex.get("split_group") or ex.get("dedup_cluster") or ex["example_id"]
        family = ex.pop("_family", None) or split_family(group, self.secret, self.ratios)
        allowed = set(ex.get("sets") or ("sft", "preference", "evaluation"))
        if family == "evaluation":
            if kind == "preference":
                yield event("examples", STAGE, FILTERED, "preference_pair_of_evaluation_patient", kind)
                return
            if "evaluation" not in allowed:
                yield event("examples", STAGE, FILTERED, "task_not_for_evaluation", kind)
                return
            yield ("evaluation", example_row(ex, "evaluation"))
            return
        if kind == "evaluation":
            yield event("examples", STAGE, FILTERED, "evaluation_task_on_training_patient", kind)
            return
        if kind not in allowed:
            yield event("examples", STAGE, FILTERED, f"task_not_for_{kind}", kind)
            return
        yield (kind, example_row(ex, kind))


def _row_text(split: str, row: dict) -> str:
    if split == "pretraining":
        return row.get("text") or ""
    return example_text(row)


class _DropContaminated(beam.DoFn):
    def process(self, item):
        _, grouped = item
        hits = sorted({b for b in grouped["hit"] if b})
        for split, row in grouped["row"]:
            ledger = "documents" if split == "pretraining" else "examples"
            kind = row.get("source_kind") if split == "pretraining" else split
            if hits:
                yield event(ledger, STAGE, FILTERED, "decontaminated", kind)
                for b in hits:
                    yield event("decontamination", STAGE, "removed", b, split)
                continue
            yield event(ledger, STAGE, OUT, "", kind)
            yield pvalue.TaggedOutput(split, row)


def _membership(split_row):
    split, row = split_row
    family = "evaluation" if split == "evaluation" else "train"
    if row.get("patient_key"):
        yield ("patient:" + row["patient_key"], family)
    if row.get("dedup_cluster"):
        yield ("cluster:" + row["dedup_cluster"], family)


def _leaks(item):
    key, families = item
    if len(set(families)) > 1:
        kind = key.split(":", 1)[0]
        yield event("leakage", STAGE, "problem", f"{kind}_in_evaluation_and_training", "").value


def stratified_families(stratum_patients, secret: bytes, ratio: float):
    """Within one stratum, the first round(ratio * n) patients by keyed hash go to evaluation."""
    import hashlib
    import hmac

    stratum, keys = stratum_patients
    keys = sorted(set(keys), key=lambda k: hmac.new(secret, b"split\x1f" + k.encode(), hashlib.sha256).digest())
    n_eval = int(round(ratio * len(keys)))
    for i, key in enumerate(keys):
        yield key, "evaluation" if i < n_eval else "train"


def _attach(item):
    key, grouped = item
    family = grouped["family"][0] if grouped["family"] else None
    for element in grouped["item"]:
        if family:
            element["_family"] = family
        yield element


class AttachFamilies(beam.PTransform):
    """Join precomputed (patient_key, family) assignments onto items that carry a patient_key."""

    def __init__(self, families):
        super().__init__()
        self.families = families

    def expand(self, items):
        with_pk = items | "WithPatient" >> beam.Filter(lambda x: bool(x.get("patient_key")))
        without = items | "WithoutPatient" >> beam.Filter(lambda x: not x.get("patient_key"))
        joined = (
            {"family": self.families, "item": with_pk | "KeyByPatient" >> beam.Map(lambda x: (x["patient_key"], x))}
            | "JoinFamily" >> beam.CoGroupByKey()
            | "Attach" >> beam.FlatMap(_attach)
        )
        return (joined, without) | "Rejoin" >> beam.Flatten()


class SplitAndDecontaminate(beam.PTransform):
    """(documents, examples) -> {"pretraining", "sft", "preference", "evaluation", "events"}."""

    def __init__(self, ctx):
        super().__init__()
        self.secret = ctx.secret
        split_cfg = ctx.config.get("split") or {}
        self.ratios = {"evaluation": float(split_cfg.get("evaluation_ratio", 0.2))}
        self.stratify_by = [s for s in split_cfg.get("stratify_by") or []]
        dc = ctx.config.get("decontamination") or {}
        self.n_words = int(dc.get("n_words", 13))
        self.n_cjk = int(dc.get("n_cjk", 20))
        self.max_train_df = int(dc.get("max_train_df", 5))
        self.benchmarks = list(ctx.benchmarks)

    def expand(self, pcolls):
        from transforms.split.decontaminate import Decontaminate, load_benchmarks

        documents, examples, strata = pcolls
        if self.stratify_by:
            fields = self.stratify_by
            families = (
                strata
                | "Stratum" >> beam.Map(lambda kv: ("|".join(str(kv[1].get(f, "none")) for f in fields), kv[0]))
                | "GroupStratum" >> beam.GroupByKey()
                | "AssignInStratum" >> beam.FlatMap(stratified_families, self.secret, self.ratios["evaluation"])
            )
            documents = documents | "DocFamilies" >> AttachFamilies(families)
            examples = examples | "ExampleFamilies" >> AttachFamilies(families)
        docs = documents | "AssignDocuments" >> beam.ParDo(_AssignDocument(self.secret, self.ratios)).with_outputs(
            EVENTS, main="rows")
        exs = examples | "AssignExamples" >> beam.ParDo(_AssignExample(self.secret, self.ratios)).with_outputs(
            EVENTS, main="rows")
        routed = (docs.rows, exs.rows) | "AllRows" >> beam.Flatten()
        evaluation = routed | "EvaluationRows" >> beam.Filter(lambda sr: sr[0] == "evaluation") \
            | "EvalRow" >> beam.Map(lambda sr: sr[1])
        training = routed | "TrainingRows" >> beam.Filter(lambda sr: sr[0] != "evaluation")

        bench = [(b["benchmark"], " ".join(x for x in (b.get("question"), _opts(b.get("options")), b.get("answer")) if x))
                 for b in load_benchmarks(self.benchmarks)]
        references = (
            (evaluation | "EvalRefs" >> beam.Map(lambda r: ("evaluation", example_text(r))),
             training.pipeline | "BenchmarkRefs" >> beam.Create(bench))
            | "AllRefs" >> beam.Flatten()
        )
        train_items = training | "TrainItems" >> beam.Map(lambda sr: (sr[1]["id"], _row_text(*sr)))
        hits = (train_items, references) | "Decontaminate" >> Decontaminate(self.n_words, self.n_cjk, self.max_train_df)
        kept = (
            {"row": training | "KeyRow" >> beam.Map(lambda sr: (sr[1]["id"], sr)),
             "hit": hits}
            | "JoinHits" >> beam.CoGroupByKey()
            | "DropContaminated" >> beam.ParDo(_DropContaminated()).with_outputs(*TRAINING, EVENTS, main="unused")
        )
        eval_events = evaluation | "EvalEvents" >> beam.Map(lambda r: event("examples", STAGE, OUT, "", "evaluation").value)
        leak_events = (
            ((kept.pretraining | "PT" >> beam.Map(lambda r: ("pretraining", r))),
             (kept.sft | "SF" >> beam.Map(lambda r: ("sft", r))),
             (kept.preference | "PF" >> beam.Map(lambda r: ("preference", r))),
             (evaluation | "EV" >> beam.Map(lambda r: ("evaluation", r))))
            | "AllWritten" >> beam.Flatten()
            | "Membership" >> beam.FlatMap(_membership)
            | "GroupMembership" >> beam.GroupByKey()
            | "Leaks" >> beam.FlatMap(_leaks)
        )
        events = (docs[EVENTS], exs[EVENTS], kept[EVENTS], eval_events, leak_events) | "SplitEvents" >> beam.Flatten()
        return {"pretraining": kept.pretraining, "sft": kept.sft, "preference": kept.preference,
                "evaluation": evaluation, "events": events}


def _opts(options) -> str:
    if not options:
        return ""
    if isinstance(options, dict):
        return " ".join(str(v) for _, v in sorted(options.items()))
    if isinstance(options, list):
        return " ".join(str(v) for v in options)
    return str(options)
