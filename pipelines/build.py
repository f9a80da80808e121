"""``medcorpus build``: assemble and run the corpus pipeline, then write the manifest.

read & parse -> group by patient -> de-identify -> normalize terminology -> quality -> dedup
-> tier -> task examples -> split (+ decontaminate) -> write. Each stage is a composite
PTransform from ``transforms/``; this module only wires them and handles the run around them.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

import pipelines.runners.dask_runner  # noqa: F401 - registers the --dask_* options (Beam's DaskOptions and ours)
from pipelines import __version__
from pipelines.config import config_hash, load_config, load_section_file
from pipelines.errors import UserError
from pipelines.output_dir import (OUTPUT_ENTRIES, RUNNING_MARKER, prepare_output,  # noqa: F401 - re-exported
                                  record_reuse, reusable_build)
from pipelines.sample.export import sample_source_specs
from pipelines.secret import Secret, resolve_secret
from pipelines.sources import Source, check_sources, disambiguate, input_fingerprint, parse_source
from schemas.tables import LINEAGE_INPUTS, LINEAGE_ROWS, LINEAGE_SOURCES
from schemas.tables import REJECTED as REJECTED_SCHEMA
from schemas.tables import REVIEW as REVIEW_SCHEMA
from schemas.tables import FAMILIES, SPLITS


def pipeline_options(beam_args: list[str]) -> PipelineOptions:
    logging.getLogger("apache_beam.options.pipeline_options").setLevel(logging.WARNING)
    if not any(a.startswith("--default_sdk_harness_log_level") for a in beam_args) and \
            logging.getLogger().getEffectiveLevel() > logging.INFO:
        beam_args = beam_args + ["--default_sdk_harness_log_level=WARNING"]
    opts = PipelineOptions(beam_args)
    std = opts.view_as(StandardOptions)
    if not std.runner:
        std.runner = "DirectRunner"  # named explicitly: never fall back to downloading Prism
    from pipelines.runners import DASK_RUNNER, is_dask

    if is_dask(std.runner):  # --runner dask: pipelines/runners/dask_runner.py (Beam's DaskOptions apply)
        import pipelines.runners.dask_runner  # noqa: F401 - registers --dask_client_address, --dask_npartitions

        std.runner = DASK_RUNNER
    if std.runner in ("DirectRunner", "direct"):
        direct = opts.view_as(DirectOptions)
        if "--direct_running_mode" not in " ".join(beam_args):
            direct.direct_running_mode = "multi_processing"
        if "--direct_num_workers" not in " ".join(beam_args):
            direct.direct_num_workers = 0  # all cores
    return opts


#: --runner dask: one shuffle partition per this many input bytes (gzip JSON grows ~10x as Python objects)
DASK_BYTES_PER_PARTITION = 16 * 1024 * 1024
DASK_MAX_AUTO_PARTITIONS = 128


def dask_partitions_for_input(opts: PipelineOptions, sources: list[Source]) -> None:
    """On Dask, unless the user chose, at least one partition per 16 MB of input (at most 128), so that a
    partition's records fit a worker however large the input (the runner's floor: two per worker thread)."""
    from pipelines.runners import is_dask

    if not is_dask(opts.view_as(StandardOptions).runner):
        return
    from pipelines.runners.dask_runner import DaskOptions, DaskRunnerOptions

    if opts.view_as(DaskOptions).npartitions or opts.view_as(DaskRunnerOptions).dask_min_partitions:
        return
    total = sum(m.size_in_bytes for s in sources for m in FileSystems.match([s.pattern])[0].metadata_list)
    opts.view_as(DaskRunnerOptions).dask_min_partitions = min(
        DASK_MAX_AUTO_PARTITIONS, -(-total // DASK_BYTES_PER_PARTITION))


def runner_name(opts: PipelineOptions) -> str:
    """The runner as the manifest records it: its class name (``DaskRunner``, ``DirectRunner``, ...)."""
    return str(opts.view_as(StandardOptions).runner).rsplit(".", 1)[-1]


def warn_if_ocr_unavailable(deid_policy: dict) -> str | None:
    """Images are read with OCR before release; without tesseract every image is quarantined (the safe
    failure) and the user is told so on one line before the run starts."""
    from transforms.deid.dicom_profile import DicomPolicy
    from transforms.deid.pixel_text import PixelTextPolicy, ocr_available

    try:
        policy = PixelTextPolicy.from_dict(DicomPolicy.from_dict(deid_policy.get("dicom") or {}).pixel_text)
    except (TypeError, ValueError) as exc:
        raise UserError(f"de-identification policy: {exc}") from None
    reason = ocr_available(policy.languages)
    if reason:
        print(f"medcorpus: warning: OCR cannot run here ({reason.split(':', 1)[1]}): every DICOM image will be "
              "quarantined; install Debian's tesseract-ocr with the language packs named in dicom.pixel_text."
              f"languages ({', '.join(policy.languages)}), e.g. apt-get install tesseract-ocr tesseract-ocr-eng "
              "tesseract-ocr-chi-sim", file=sys.stderr)
    return reason


def resolve_inputs(args) -> tuple[list[Source], bool]:
    specs = list(args.source)
    using_sample = not specs
    if using_sample:
        specs = sample_source_specs()
    return [parse_source(s) for s in specs], using_sample


class BuildContext:
    """Everything the stages need, resolved once on the driver (picklable, no secrets printed)."""

    def __init__(self, config: dict, secret: Secret, output: str, benchmarks: list[str]):
        self.config = config
        self.secret = secret.value
        self.output = output
        self.deid_policy = load_section_file(config, "deid_policy")
        self.quality_policy = load_section_file(config, "quality")
        self.matrix_path = config["matrix"]
        self.benchmarks = list(config.get("decontaminate_against") or []) + list(benchmarks)
        self.cache_dir = None  # set by --incremental: per-patient de-identification cache

    def stage_versions(self) -> dict[str, str]:
        from transforms.terminology import table_versions
        from transforms.tiering.matrix import load_matrix
        from transforms.write.lineage import stage_versions

        return stage_versions(medcorpus=__version__, deid_policy=self.deid_policy,
                              quality_policy=self.quality_policy, matrix_version=load_matrix(self.matrix_path).version,
                              table_versions=table_versions(self.config))


def build_pipeline(p: beam.Pipeline, sources: list[Source], ctx: BuildContext) -> None:
    from transforms.dedup.stage import DropDuplicates
    from transforms.deid.stage import Deidentify
    from transforms.io.read import ReadSources
    from transforms.link.group_by_patient import GroupByPatient
    from transforms.quality.boilerplate import StripBoilerplate
    from transforms.quality.stage import ScoreDocuments
    from transforms.split.stage import SplitAndDecontaminate
    from transforms.tasks.dedup import DedupExamples
    from transforms.tasks.linearise import LineariseRecords
    from transforms.tasks.stage import BuildExamples
    from transforms.terminology.displays import NormalizeDisplays
    from transforms.terminology.stage import NormalizeTerminology
    from transforms.tiering.stage import TierDocuments
    from transforms.write.layout import WriteSplitFamily
    from transforms.write.lineage import lineage_row
    from transforms.write.parquet import WriteTable
    from transforms.write.source_names import audit_entry, lineage_source, pseudonymise_rejected, with_source_id
    from transforms.write.stats import WriteEvents

    out = ctx.output
    shards = ctx.config["output"].get("rows_per_shard", {})
    read = p | "Sources" >> beam.Create([s.as_dict() for s in sources]) | "Read" >> ReadSources(ctx.config)
    linked = read["units"] | "GroupByPatient" >> GroupByPatient(
        (ctx.config.get("link") or {}).get("identifier_systems"))
    deid = (linked["records"], linked["standalone"]) | "Deidentify" >> Deidentify(ctx)
    coded = (deid["records"], deid["documents"]) | "Terminology" >> NormalizeTerminology(ctx)
    displayed = coded["records"] | "Displays" >> NormalizeDisplays(
        tuple((ctx.config.get("terminology") or {}).get("display_tables") or []))
    summaries = displayed | "Linearise" >> LineariseRecords()
    texts = (coded["documents"], summaries["documents"]) | "NotesAndSummaries" >> beam.Flatten()
    stripped = texts | "Boilerplate" >> StripBoilerplate(ctx.quality_policy)
    scored = stripped["documents"] | "Quality" >> ScoreDocuments(ctx)
    unique = scored["documents"] | "Dedup" >> DropDuplicates(ctx)
    tiered = unique["documents"] | "Tier" >> TierDocuments(ctx)
    examples = (displayed, tiered["documents"]) | "Tasks" >> BuildExamples(ctx)
    distinct = examples["examples"] | "ExampleDedup" >> DedupExamples(ctx)
    split = (tiered["documents"], distinct["examples"], examples["strata"]) | "Split" >> SplitAndDecontaminate(ctx)

    rejected = [read["rejected"], linked["rejected"], deid["rejected"], coded["rejected"], stripped["rejected"],
                scored["rejected"], tiered["rejected"], examples["rejected"]]
    events = [read["events"], linked["events"], deid["events"], coded["events"], summaries["events"],
              stripped["events"], scored["events"], unique["events"], tiered["events"], examples["events"],
              distinct["events"], split["events"]]
    versions = ctx.stage_versions()
    lineage_rows = []
    for family in FAMILIES:
        written = split[family] | f"Write_{family}" >> WriteSplitFamily(out, family, shards.get(family, 50_000))
        rejected.append(written["rejected"])
        events.append(written["events"])
        for table, rows in written["tables"].items():
            lineage_rows.append(rows | f"Lineage_{table}" >> beam.Map(lineage_row, table, versions))
    (tuple(lineage_rows) | "AllLineage" >> beam.Flatten()
     | "WriteLineageRows" >> WriteTable(out, "lineage/rows", LINEAGE_ROWS, 200_000))
    # input files are named by keyed pseudonyms outside lineage/ (transforms/write/source_names.py)
    (deid["lineage"] | "LineageSourceIds" >> beam.Map(with_source_id, ctx.secret)
     | "WriteLineageInputs" >> WriteTable(out, "lineage/inputs", LINEAGE_INPUTS, 500_000))
    (read["inputs"] | "SourceNames" >> beam.Map(lineage_source, ctx.secret)
     | "WriteLineageSources" >> WriteTable(out, "lineage/sources", LINEAGE_SOURCES, 500_000))
    review = scored["review"] | "WriteReview" >> WriteTable(out, "review", REVIEW_SCHEMA, 50_000)
    all_rejected = (tuple(rejected) | "AllRejected" >> beam.Flatten()
                    | "PseudonymousSources" >> beam.Map(pseudonymise_rejected, ctx.secret))
    rej = all_rejected | "WriteRejected" >> WriteTable(out, "rejected", REJECTED_SCHEMA, 50_000)
    events.append(rej["events"])
    events.append(review["events"])
    (tuple(events) | "AllEvents" >> beam.Flatten()
     | "WriteEvents" >> WriteEvents(FileSystems.join(out, "_stats")))
    (read["inputs"] | "AuditEntry" >> beam.Map(audit_entry, ctx.secret)
     | "InputJson" >> beam.Map(lambda r: json.dumps(r, sort_keys=True))
     | "WriteInputs" >> beam.io.WriteToText(FileSystems.join(out, "_stats", "inputs"), file_name_suffix=".jsonl"))


def preflight(args, beam_args: list[str]):
    """Every check that can fail on the user's input, before anything is read or written:
    options, typed config, remote filesystems, secret, sources and their kinds, tables, builders."""
    from pipelines.options import check_remote_path

    sources, using_sample = resolve_inputs(args)
    config = load_config(args.config)
    check_remote_path(args.output, "--output")
    check_remote_path(args.secret_file, "--secret-file")
    for src in sources:
        check_remote_path(src.pattern, f"--source {src.kind}:")
    secret = resolve_secret(args.secret_file, allow_demo=using_sample)
    check_sources(sources)
    sources = disambiguate(sources)
    if not using_sample:
        from pipelines.sniff import check_source_kinds

        check_source_kinds(sources)
    opts = pipeline_options(beam_args)
    ctx = BuildContext(config, secret, args.output, args.benchmark)
    for b in ctx.benchmarks:
        if "://" not in b and not Path(b).is_file():
            raise UserError(f"benchmark file not found: {b}")
    from transforms.terminology.displays import load_display_table
    from transforms.terminology.maps import load_map_table
    from transforms.tiering.matrix import load_matrix

    matrix = load_matrix(config["matrix"])  # the matrix and the user's tables, before any data is read
    for table in config["terminology"]["maps"]:
        load_map_table(Path(table))
    for table in config["terminology"].get("display_tables") or []:
        load_display_table(Path(table))
    import transforms.tasks  # noqa: F401 - registers the shipped builders
    from transforms.tasks.plugin import BuilderError, builders_fingerprint, check_builders, load_builders

    try:
        load_builders(config["tasks"]["builders"])
        check_builders({t["id"]: t["builder"] for t in matrix.tasks})
    except BuilderError as exc:
        raise UserError(str(exc)) from None
    from pipelines.validate_command import leak_settings

    leak = leak_settings(config, [s.root for s in sources])  # None when leak_gate.enabled is false
    fingerprint = input_fingerprint(sources, secret.value)  # keyed: manifest.json is shareable
    dask_partitions_for_input(opts, sources)
    chash = config_hash(config, {"benchmarks": ctx.benchmarks, "builders": builders_fingerprint()})
    return sources, config, secret, opts, ctx, leak, fingerprint, chash


def run_build(args, beam_args: list[str]) -> int:
    from pipelines.manifest import finish_manifest
    from pipelines.output_dir import clean_partial, interrupted_build, mark_done, mark_running, write_resolved_config
    from pipelines.progress import RunProgress, print_summary

    sources, config, secret, opts, ctx, leak, fingerprint, chash = preflight(args, beam_args)
    runner = runner_name(opts)
    if getattr(args, "dry_run", False):
        print(f"medcorpus: dry run: {len(sources)} source(s), config, secret, builders and {runner} options checked; "
              f"config hash {chash[:12]}; nothing was read or written", file=sys.stderr)
        return 0
    incremental = getattr(args, "incremental", False)
    if getattr(args, "skip_unchanged", False) or incremental:
        previous = reusable_build(args.output, fingerprint=fingerprint, config_hash=chash, secret=secret)
        if previous is not None:
            print(f"medcorpus: inputs, config, secret and version unchanged since run {previous['run_id']}: "
                  f"reusing {sum(len(s) for s in previous['shards'].values())} shards in {args.output}",
                  file=sys.stderr)
            record_reuse(args.output, previous)
            code = 0 if previous["reconciliation"]["ok"] else 1
            if args.gate:
                from pipelines.validate_command import validate_dir

                code = code if validate_dir(args.output, None, leak=leak) else 1
            return code
    if interrupted_build(args.output):
        print(f"medcorpus: replacing the unfinished build left in {args.output}", file=sys.stderr)
    keep = ("cache",) if incremental else ()
    prepare_output(args.output, args.overwrite or getattr(args, "skip_unchanged", False) or incremental, keep=keep)
    if incremental:
        ctx.cache_dir = (FileSystems.join(args.output, "cache") if "://" in args.output
                         else str(Path(args.output).resolve() / "cache"))

    if any(s.kind == "dicom" for s in sources):
        warn_if_ocr_unavailable(ctx.deid_policy)
    run_id = uuid.uuid4().hex[:12]
    mark_running(args.output, run_id)
    started = time.time()
    print(f"medcorpus {__version__}: building {len(sources)} source(s) with {runner}"
          f"{' (bundled sample, demo secret)' if secret.demo else ''}", file=sys.stderr)
    from pipelines.local_runner import runner_for

    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    os.environ["MEDCORPUS_VERBOSE"] = "1" if verbose else "0"  # read by local worker processes
    local = runner in ("DirectRunner", "direct", "PortableRunner", "FnApiRunner")
    try:
        with RunProgress("medcorpus build", local=local, verbose=verbose), \
                beam.Pipeline(runner=runner_for(opts), options=opts) as p:
            build_pipeline(p, sources, ctx)
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # the runner's shutdown noise is not news
        clean_partial(args.output, keep=keep)
        print(f"medcorpus: interrupted; removed the partial output in {args.output}"
              f"{' (kept the cache: the same command resumes)' if incremental else ''}", file=sys.stderr)
        return 130
    finished = time.time()
    manifest = finish_manifest(
        args.output, run_id=run_id, version=__version__, config=config,
        config_hash=chash, secret=secret, input_fingerprint=fingerprint,
        runner=runner, sources=sources, started=started, finished=finished,
        deid_policy=ctx.deid_policy)
    write_resolved_config(args.output, config)
    from pipelines.datacard import write_audit_log, write_data_card

    write_data_card(args.output, manifest)
    write_audit_log(args.output, manifest)
    if "://" not in args.output:
        shutil.rmtree(Path(args.output) / "_stats", ignore_errors=True)
    mark_done(args.output)
    print_summary(args.output, manifest)
    return finish_checks(args, manifest, leak)


def finish_checks(args, manifest: dict, leak=None) -> int:
    """The exit code: reconciliation, leakage, builder failures, empty training splits, the gate."""
    from pipelines.progress import builder_failures
    from schemas.tables import LAYOUT, TRAINING_FAMILIES

    code = 0
    if not manifest["reconciliation"]["ok"]:
        print("medcorpus: error: counts do not reconcile (see manifest.json 'reconciliation')", file=sys.stderr)
        code = 1
    if manifest.get("leakage", {}).get("problems"):
        print("medcorpus: error: evaluation leakage detected (see manifest.json 'leakage')", file=sys.stderr)
        code = 1
    for (builder, exc), n in builder_failures(manifest).items():
        print(f"medcorpus: warning: task builder '{builder}' raised {exc} on {n} patient(s); their examples are "
              "missing (rejected/, stage tasks)", file=sys.stderr)
    by_split = manifest["counts"]["by_split"]
    if not any(by_split.get(t, 0) for f in TRAINING_FAMILIES for t in LAYOUT[f]):
        print("medcorpus: error: every training split is empty (pretraining, sft, preference): "
              + empty_hint(manifest), file=sys.stderr)
        code = 1
    from pipelines.validate_command import run_leak_gate, validate_dir

    thumbnails = bool(getattr(args, "report_thumbnails", False))
    if args.gate:
        # expectation suites, then the leak gate over every shareable file; rewrites the report
        if not validate_dir(args.output, None, leak=leak, thumbnails=thumbnails):
            code = 1
    else:
        from pipelines.report import write_report

        write_report(args.output, thumbnails=thumbnails)
        if leak and not run_leak_gate(args.output, leak, thumbnails):
            code = 1
    return code


def empty_hint(manifest: dict) -> str:
    """Where the input went: the largest filter/reject reason over every stage."""
    reasons: dict[str, int] = {}
    for ledger, stages in (manifest.get("stages") or {}).items():
        if ledger not in ("units", "documents", "examples"):
            continue
        for stage, st in stages.items():
            for kind in ("filtered", "rejected"):
                for reason, n in st.get(kind, {}).items():
                    reasons[f"{stage} {kind} {reason}"] = reasons.get(f"{stage} {kind} {reason}", 0) + n
    read = manifest["reconciliation"]["units"]["read"]
    if not reasons:
        return f"{read} input unit(s) read; nothing reached the splits (see manifest.json 'stages')"
    top = max(reasons, key=reasons.get)
    return f"{read} input unit(s) read; most went to: {top} ({reasons[top]}) - see manifest.json 'stages'"
