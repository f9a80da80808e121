"""``medcorpus deid INPUT... --output DIR``: de-identified copies in their own formats, as a Beam job.

Files are listed and read on the workers with the build's listing, readers and limits
(``transforms.io``: symlinks, one read per file, bounded decompression, any encoding); two inputs
that hold the same relative path are labelled apart (``pipelines.sources.disambiguate``), never
written over each other. A first pass indexes every FHIR Patient of the run
(``transforms.deid.linking``) so that one person gets one pseudonym and one date shift in every
modality, as in ``build``; then each file is de-identified by ``transforms.deid.files``. Outputs
keep the folder layout under DIR with keyed folder and file names (names often carry PHI). A summary of counts
(entity types, DICOM actions, quarantined and rejected files — no values, no names) is written to
``DIR/deid_summary.json`` and printed. Then the leak gate (``transforms.quality.leak_files``, on by
default, ``leak_gate.*`` as in ``build``) reads every written file; anything found exits 1.
"""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines.config import load_config, load_section_file
from pipelines.errors import UserError
from pipelines.secret import resolve_secret
from pipelines.sources import disambiguate, make_source

#: free-text documents (not tables: ``.csv`` rows carry patient ids)
DOCUMENT_SUFFIXES = (".txt", ".md", ".text", ".note")
#: sniffed kinds that are not de-identified -> the reject kind in the summary
_NOT_DEIDENTIFIED = {"invalid-json": "invalid_json", "json": "not_fhir_or_jsonl", "binary": "binary"}


def _read(f: dict, limits) -> tuple[bytes, bool]:
    """The file's content (gunzipped under the limits) and whether it was gzip; ``ReadProblem``,
    ``LimitExceeded`` or ``BadArchive`` when it cannot be read."""
    from transforms.io.archive import is_gzip, unwrap
    from transforms.io.read import read_file_bytes

    data = read_file_bytes(f, limits)
    return unwrap(data, limits), is_gzip(data)


class IndexPatients(beam.DoFn):
    """First pass: every FHIR Patient of the run (id and identifiers -> patient) and each patient's
    latest date, so notes and images in other files link to them as in ``build``."""

    def __init__(self, identifier_systems: list[str], limits=None):
        super().__init__()
        self.identifier_systems = tuple(identifier_systems or ())
        self.limits = limits

    def process(self, f: dict):
        from transforms.deid.files import sniff_kind
        from transforms.deid.linking import index_entries

        try:
            raw, _ = _read(f, self.limits)
        except Exception:  # noqa: BLE001 - the de-identify pass reports the file's reject
            return
        if sniff_kind(raw, f["source"]) not in ("fhir-json", "fhir-ndjson"):
            return
        for tag, kv in index_entries(raw, self.identifier_systems, self.limits):
            yield beam.pvalue.TaggedOutput(tag, kv)


class DeidFile(beam.DoFn):
    """One listed file -> its de-identified copy (or copies, for a zip of DICOM) and a Counter of what happened.

    Every file ends as exactly one of ``files:written``, ``files:quarantined`` or
    ``files:rejected:<kind>``; units left out of a written file are ``rejected:<kind>``.
    """

    def __init__(self, secret: bytes, policy: dict, output: str, fhir_version: str = "R4",
                 display_tables: tuple = (), limits=None, fhir_mode: str = "lenient"):
        super().__init__()
        self.secret, self.policy, self.output = secret, policy, output
        self.fhir_version, self.display_tables = fhir_version, tuple(display_tables)
        self.limits, self.fhir_mode = limits, fhir_mode
        self.worker = None

    def setup(self):
        from transforms.base import quiet_libraries
        from transforms.deid.files import FileDeidentifier

        quiet_libraries()
        self.worker = FileDeidentifier(self.secret, self.policy, self.fhir_version, self.display_tables,
                                       self.limits, self.fhir_mode)

    def _write(self, rel: str, data: bytes) -> None:
        from apache_beam.io.filesystem import CompressionTypes

        with FileSystems.create(FileSystems.join(self.output, rel), compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(data)

    def _zip(self, raw: bytes, rel: str, counts: Counter, linker) -> int:
        """De-identify every DICOM member of a zip; returns how many were written."""
        from transforms.deid.files import output_path
        from transforms.io.dicom_read import DicomReadError, dicom_members

        written = 0
        for position, blob in dicom_members(raw, self.worker.limits):
            try:
                out, _ = self.worker.dicom(blob, counts, linker)
            except DicomReadError as exc:
                counts[f"rejected:{exc.kind}"] += 1
                continue
            if out is None:
                counts["members:quarantined"] += 1
                continue
            self._write(output_path(self.secret, f"{rel}/{position}", "dicom", False), out)
            written += 1
        return written

    def process(self, f: dict, links: dict, patients: dict, latest: dict):
        from transforms.deid.files import FileRejected, output_path, sniff_kind
        from transforms.deid.linking import Linker
        from transforms.io.archive import BadArchive
        from transforms.io.dicom_read import DicomReadError
        from transforms.io.limits import LimitExceeded
        from transforms.io.read import ReadProblem

        counts: Counter = Counter({"files:listed": 1})
        linker = Linker(links, patients, latest,
                        max_days=int((self.policy.get("date_shift") or {}).get("max_days", 365)),
                        age_cap=int((self.policy.get("fhir") or {}).get("age_cap", self.policy.get("age_cap", 89))))
        source = f["source"]
        rel = source.split(":", 1)[1]
        try:
            raw, gz = _read(f, self.worker.limits)
        except (ReadProblem, LimitExceeded, BadArchive) as exc:
            counts[f"files:rejected:{exc.kind}"] += 1
            yield dict(counts)
            return
        kind = sniff_kind(raw, rel)
        counts[f"files:{kind}"] += 1
        try:
            if kind in ("fhir-json", "fhir-ndjson"):
                out = self.worker.fhir_file(raw, counts, linker, source)
            elif kind == "jsonl":
                out = self.worker.jsonl(raw, counts, linker, source)
            elif kind == "csv":
                out = self.worker.csv_file(raw, counts, linker, source)
            elif kind == "text":
                out = self.worker.text_file(raw, source, counts)
            elif kind == "dicom":
                out, reason = self.worker.dicom(raw, counts, linker)
                if out is None:
                    counts["files:quarantined"] += 1
                    yield dict(counts)
                    return
            elif kind == "zip":
                written = self._zip(raw, rel, counts, linker)
                counts["files:written" if written else "files:rejected:nothing_left"] += 1
                counts["members:written"] += written
                yield dict(counts)
                return
            else:
                counts[f"files:rejected:{_NOT_DEIDENTIFIED.get(kind, kind)}"] += 1
                yield dict(counts)
                return
        except (LimitExceeded, BadArchive, DicomReadError, FileRejected) as exc:
            counts[f"files:rejected:{exc.kind}"] += 1
            yield dict(counts)
            return
        except Exception as exc:  # noqa: BLE001 - one file never stops the run; no details (may hold PHI)
            counts[f"files:rejected:{type(exc).__name__}"] += 1
            yield dict(counts)
            return
        if out is None:  # every unit of the file was rejected (counted as rejected:<kind>)
            counts["files:rejected:nothing_left"] += 1
            yield dict(counts)
            return
        if gz:
            out = gzip.compress(out, mtime=0)
        self._write(output_path(self.secret, rel, kind, gz), out)
        counts["files:written"] += 1
        yield dict(counts)


def _first(values):
    """A deterministic pick among duplicates (the same Patient in two files)."""
    import orjson

    return min(values, key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))


def _merge(dicts):
    total: Counter = Counter()
    for d in dicts:
        total.update(d)
    return dict(total)


def run_deid(args, beam_args: list[str] | None = None) -> int:
    from pipelines.build import pipeline_options, prepare_output
    from pipelines.local_runner import runner_for
    from pipelines.options import check_remote_path
    from transforms.io.limits import Limits
    from transforms.io.read import ListFiles

    config = load_config(args.config)
    check_remote_path(args.output, "--output")
    sources = []
    for inp in args.inputs:
        if "://" not in inp and not Path(inp).exists():
            raise UserError(f"input does not exist: {inp}")
        sources.append(make_source("text", inp))  # kind is sniffed per file; "text" only names the source
    sources = disambiguate(sources)  # two inputs holding the same relative path get distinct output paths
    secret = resolve_secret(args.secret_file, allow_demo=False)
    policy = load_section_file(config, "deid_policy")
    from pipelines.validate_command import leak_settings

    leak = leak_settings(config, [s.root for s in sources])  # None when leak_gate.enabled is false
    from pipelines.build import warn_if_ocr_unavailable

    warn_if_ocr_unavailable(policy)  # DICOM pixels are read with OCR; without it every image is quarantined
    prepare_output(args.output, args.overwrite)
    summary_path = Path(args.output) / "deid_summary.json"
    opts = pipeline_options(list(beam_args or []))
    systems = list((config.get("link") or {}).get("identifier_systems") or [])
    fhir_version = str((config.get("fhir") or {}).get("version") or "R4")
    tables = tuple((config.get("terminology") or {}).get("display_tables") or [])
    limits, fhir_mode = Limits.from_config(config), str((config.get("fhir") or {}).get("mode") or "lenient")
    with beam.Pipeline(runner=runner_for(opts), options=opts) as p:
        files = (p
                 | "Inputs" >> beam.Create([s.as_dict() for s in sources])
                 | "List" >> ListFiles())
        index = files | "IndexPatients" >> beam.ParDo(IndexPatients(systems, limits)).with_outputs(
            "link", "patient", "latest")
        links = index.link | "OnePatientPerValue" >> beam.CombinePerKey(min)
        patients = index.patient | "OnePatientResource" >> beam.CombinePerKey(_first)
        latest = index.latest | "LatestDate" >> beam.CombinePerKey(max)
        (files
         | "Deidentify" >> beam.ParDo(DeidFile(secret.value, policy, args.output, fhir_version, tables, limits,
                                               fhir_mode),
                                      links=beam.pvalue.AsDict(links), patients=beam.pvalue.AsDict(patients),
                                      latest=beam.pvalue.AsDict(latest))
         | "Sum" >> beam.CombineGlobally(_merge)
         | "Summary" >> beam.Map(lambda s: summary_path.write_text(json.dumps(
             {"policy": {"id": policy.get("policy_id"), "version": policy.get("version")},
              "secret_fingerprint": secret.fingerprint, "counts": dict(sorted(s.items()))}, indent=1))))
    summary = json.loads(summary_path.read_text())
    counts = summary["counts"]
    print(f"de-identified {counts.get('files:written', 0)} file(s) into {args.output}; "
          f"quarantined {counts.get('files:quarantined', 0)}; "
          f"rejected {sum(v for k, v in counts.items() if k.startswith('files:rejected'))}; "
          f"{sum(v for k, v in counts.items() if k.startswith('rejected:'))} bad unit(s) left out of written files")
    print(f"summary (counts only): {summary_path}")
    if leak is None:
        return 0
    return 0 if run_deid_leak_gate(args.output, sources, leak, summary_path) else 1


def run_deid_leak_gate(output: str, sources, settings: dict, summary_path: Path) -> bool:
    """The leak gate over every file deid wrote (``transforms.quality.leak_files``); its counts go
    into ``deid_summary.json`` under ``leak_gate``; one line; False when anything was found."""
    import sys

    from transforms.io.listing import list_source
    from transforms.quality.leak_files import scan_files, summary_line

    if "://" in output:
        print("leak gate: skipped for an object-store output (scan a local copy)", file=sys.stderr)
        return True
    # the inputs' names are canaries; a free-text document (deid links it to no patient, as build does
    # not) keeps its title in its text, so only its relative path is one
    listed = [f["source"] for s in sources for f in list_source(s.as_dict())]
    documents = [n for n in listed if n.lower().removesuffix(".gz").endswith(DOCUMENT_SUFFIXES)]
    result = scan_files(output, inputs=[n for n in listed if n not in documents], documents=documents,
                        canaries=settings.get("canaries") or (),
                        patterns=settings.get("patterns"), roots=settings.get("roots") or ())
    summary = json.loads(summary_path.read_text())
    summary["leak_gate"] = result
    summary_path.write_text(json.dumps(summary, indent=1))
    line = summary_line(result)
    print(line if result["ok"] else f"medcorpus: error: {line} (see {summary_path} 'leak_gate')",
          file=sys.stdout if result["ok"] else sys.stderr)
    return bool(result["ok"])
