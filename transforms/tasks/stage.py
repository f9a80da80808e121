"""Task stage: build SFT, preference and evaluation examples for the matrix cells a patient fills.

For each de-identified, coded patient record, the matrix gives the diseases it belongs to and
the tasks of those rows; the registered builders turn the record into examples, each labelled
with its annotation level, ``tier = task`` and its cell (disease ids, scenario, task id).
"""
from __future__ import annotations

import importlib

import apache_beam as beam

from transforms.base import EVENTS, OUT, Operator


class BuildForRecord(Operator):
    stage = "tasks"
    ledger = "patients"

    def __init__(self, matrix_path: str, builder_modules: list[str]):
        super().__init__()
        self.matrix_path = matrix_path
        self.builder_modules = list(builder_modules)
        self.matrix = None

    def setup(self):
        from transforms.tiering.matrix import load_matrix

        self.matrix = load_matrix(self.matrix_path)
        for mod in self.builder_modules:
            importlib.import_module(mod)

    def origin(self, record):
        return (record.get("patient_key", ""), "patient", "fhir")

    def apply(self, record: dict):
        from transforms.tasks import build_examples_for_record

        from transforms.tiering.matrix import classify

        outs = []
        failures = []
        for ex in build_examples_for_record(record, self.matrix,
                                            on_error=lambda task, name, exc: failures.append((task, name, exc))):
            outs.append(with_signals(ex, record.get("record_signals")))
            outs.append(event_out(ex))
        for task, name, exc in failures:
            outs += builder_failure(record.get("patient_key") or "", task["id"], name, exc)
        # the patient's stratum for stratified splits: main disease and the source kinds it has
        diseases = classify(record.get("disease_codes") or [], self.matrix)["disease_ids"]
        kinds = sorted({d.get("source_kind") for d in record.get("documents") or [] if d.get("source_kind")}
                       | ({"fhir"} if record.get("resources") else set()))
        outs.append(beam.pvalue.TaggedOutput("strata", (record["patient_key"], {
            "disease": diseases[0] if diseases else "none", "source": "+".join(kinds) or "none"})))
        return outs


def with_signals(ex: dict, record_signals: dict | None) -> dict:
    """Quality signals of an example: text signals of all its turns, record signals of its patient."""
    from transforms.quality.signals import text_signals
    from transforms.write.rows import example_text

    ex["quality"] = text_signals(example_text(ex), ex.get("language") or "en", "qa")
    if record_signals:
        ex["record_signals"] = dict(record_signals)
    return ex


def builder_failure(patient_key: str, task_id: str, builder: str, exc: Exception) -> list:
    """A failed builder call: a rejected row naming the builder and the exception type (not its
    message, which may quote the record) and a ``builders`` ledger event the console reports."""
    from transforms.base import REJECT, REJECTED, event, rejected_row

    reason = f"builder_error:{builder}:{type(exc).__name__}"
    return [beam.pvalue.TaggedOutput(REJECTED, rejected_row(
                patient_key, "patient", "fhir", "tasks", reason,
                f"task builder '{builder}' (task {task_id}) raised {type(exc).__name__}; the patient's examples "
                "for this task are missing; details withheld (may contain PHI)")),
            event("builders", "tasks", REJECT, reason, "fhir")]


def event_out(ex: dict):
    from transforms.base import event

    return event("examples", "tasks", OUT, ex.get("task_id") or "", ex.get("set") or "")


class BuildForDocument(beam.DoFn):
    """Standalone documents (guidelines, literature) -> examples of the matrix's document tasks."""

    def __init__(self, matrix_path: str, builder_modules: list[str]):
        super().__init__()
        self.matrix_path = matrix_path
        self.builder_modules = list(builder_modules)
        self.matrix = None

    def setup(self):
        from transforms.tiering.matrix import load_matrix

        self.matrix = load_matrix(self.matrix_path)
        for mod in self.builder_modules:
            importlib.import_module(mod)

    def process(self, doc: dict):
        from transforms.tasks import build_examples_for_document

        if doc.get("patient_key") or doc.get("modality") != "text":
            return
        try:
            examples = build_examples_for_document(doc, self.matrix)
        except Exception as exc:  # noqa: BLE001 - a document without examples is not a lost input
            from transforms.base import event

            yield event("tasks", "tasks", "error", f"document_builder_failed:{type(exc).__name__}", "text")
            return
        for ex in examples:
            yield event_out(ex)
            yield with_signals(ex, None)


class ReadLabels(beam.DoFn):
    """Imported expert labels / human preference rankings (JSONL) -> examples with annotation ``fine``.

    The files hold already de-identified content (e.g. an annotation tool's export): they are not
    linked to raw patients; a ``patient_key`` in them must be a medcorpus pseudonym.
    """

    def process(self, path: str):
        import orjson
        from apache_beam.io.filesystems import FileSystems

        from transforms.base import REJECTED, event, rejected_row
        from transforms.tasks.builders import examples_from_labels

        name = path.rsplit("/", 1)[-1]
        with FileSystems.open(path) as fh:
            lines = fh.read().decode("utf-8-sig").splitlines()
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            examples = examples_from_labels([obj], source=name) if isinstance(obj, dict) else []
            if not examples:
                yield beam.pvalue.TaggedOutput(REJECTED, rejected_row(
                    f"labels:{name}", f"line {n}", "labels", "tasks", "invalid_label",
                    "label line needs prompt+response, messages, or prompt+chosen+rejected"))
                yield event("labels", "tasks", "rejected", "invalid_label", "labels")
                continue
            for ex in examples:
                ex["inputs"] = [f"labels:{name}#line {n}"]
                ex.setdefault("sets", ["sft", "preference", "evaluation"])
                ex.setdefault("disease_ids", [])
                ex.setdefault("scenario_ids", [])
                yield event("examples", "tasks", OUT, ex["task_id"], ex["set"])
                yield with_signals(ex, None)


class BuildExamples(beam.PTransform):
    """(de-identified records, standalone documents) (+ imported label files) -> {"examples", "rejected",
    "events", "strata"}."""

    def __init__(self, ctx):
        super().__init__()
        self.matrix_path = ctx.matrix_path
        tasks = ctx.config.get("tasks") or {}
        self.builder_modules = list(tasks.get("builders") or [])
        self.labels = list(tasks.get("labels") or [])

    def expand(self, pcolls):
        records, documents = pcolls
        res = records | "Build" >> beam.ParDo(BuildForRecord(self.matrix_path, self.builder_modules)).with_outputs(
            "rejected", "strata", EVENTS, main="examples")
        docs = documents | "BuildForDocuments" >> beam.ParDo(
            BuildForDocument(self.matrix_path, self.builder_modules)).with_outputs(EVENTS, main="examples")
        examples = (res.examples, docs.examples) | "RecordAndDocumentExamples" >> beam.Flatten()
        rejected = res.rejected
        events = (res[EVENTS], docs[EVENTS]) | "RecordAndDocumentEvents" >> beam.Flatten()
        if self.labels:
            labels = (records.pipeline | "LabelFiles" >> beam.Create(self.labels)
                      | "ReadLabels" >> beam.ParDo(ReadLabels()).with_outputs("rejected", EVENTS, main="examples"))
            examples = (examples, labels.examples) | "AllExamples" >> beam.Flatten()
            rejected = (rejected, labels.rejected) | "AllTaskRejects" >> beam.Flatten()
            events = (events, labels[EVENTS]) | "AllTaskEvents" >> beam.Flatten()
        return {"examples": examples, "rejected": rejected, "events": events, "strata": res.strata}
