"""``medcorpus deid INPUT... --output DIR``: de-identified copies in their own formats, as a Beam job.

Files are listed and read on the workers. A first pass indexes every FHIR Patient of the run
(``transforms.deid.linking``) so that one person gets one pseudonym and one date shift in every
modality, as in ``build``; then each file is de-identified by ``transforms.deid.files``. Outputs
keep the folder layout under DIR with keyed folder and file names (names often carry PHI). A summary of counts
(entity types, DICOM actions, quarantined and rejected files — no values, no names) is written to
``DIR/deid_summary.json`` and printed.
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
from pipelines.sources import make_source


def _read(f: dict) -> tuple[bytes, bool]:
    with FileSystems.open(f["path"], compression_type="uncompressed") as fh:
        data = fh.read()
    gz = data[:2] == b"\x1f\x8b"
    return (gzip.decompress(data) if gz else data), gz


class IndexPatients(beam.DoFn):
    """First pass: every FHIR Patient of the run (id and identifiers -> patient) and each patient's
    latest date, so notes and images in other files link to them as in ``build``."""

    def __init__(self, identifier_systems: list[str]):
        super().__init__()
        self.identifier_systems = tuple(identifier_systems or ())

    def process(self, f: dict):
        from transforms.deid.files import sniff_kind
        from transforms.deid.linking import index_entries

        try:
            raw, _ = _read(f)
        except (OSError, EOFError):
            return
        if sniff_kind(raw, f["source"]) not in ("fhir-json", "fhir-ndjson"):
            return
        for tag, kv in index_entries(raw, self.identifier_systems):
            yield beam.pvalue.TaggedOutput(tag, kv)


class DeidFile(beam.DoFn):
    def __init__(self, secret: bytes, policy: dict, output: str, fhir_version: str = "R4",
                 display_tables: tuple = ()):
        super().__init__()
        self.secret, self.policy, self.output = secret, policy, output
        self.fhir_version, self.display_tables = fhir_version, tuple(display_tables)
        self.worker = None

    def setup(self):
        from transforms.base import quiet_libraries
        from transforms.deid.files import FileDeidentifier

        quiet_libraries()
        self.worker = FileDeidentifier(self.secret, self.policy, self.fhir_version, self.display_tables)

    def process(self, f: dict, links: dict, patients: dict, latest: dict):
        from apache_beam.io.filesystem import CompressionTypes

        from transforms.deid.files import output_path, sniff_kind
        from transforms.deid.linking import Linker
        from transforms.io.dicom_read import DicomReadError
        from transforms.io.text_parse import UndecodableText

        counts: Counter = Counter()
        linker = Linker(links, patients, latest,
                        max_days=int((self.policy.get("date_shift") or {}).get("max_days", 365)),
                        age_cap=int((self.policy.get("fhir") or {}).get("age_cap", self.policy.get("age_cap", 89))))
        source = f["source"]
        rel = source.split(":", 1)[1]
        try:
            raw, gz = _read(f)
        except (OSError, EOFError):
            counts["files:rejected:unreadable"] += 1
            yield dict(counts)
            return
        kind = sniff_kind(raw, rel)
        counts[f"files:{kind}"] += 1
        try:
            if kind == "fhir-json":
                out = self.worker.fhir_json(raw, counts, linker, source)
            elif kind == "fhir-ndjson":
                out = self.worker.fhir_ndjson(raw, counts, linker, source)
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
            else:
                counts[f"files:rejected:{kind}"] += 1
                yield dict(counts)
                return
        except (DicomReadError, UnicodeDecodeError, UndecodableText, ValueError) as exc:
            counts[f"files:rejected:{type(exc).__name__}"] += 1
            yield dict(counts)
            return
        if gz:
            out = gzip.compress(out, mtime=0)
        path = FileSystems.join(self.output, output_path(self.secret, rel, kind, gz))
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(out)
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
    from transforms.io.read import ExpandSource

    config = load_config(args.config)
    sources = []
    for inp in args.inputs:
        if "://" not in inp and not Path(inp).exists():
            raise UserError(f"input does not exist: {inp}")
        sources.append(make_source("text", inp))  # kind is sniffed per file; "text" only names the source
    secret = resolve_secret(args.secret_file, allow_demo=False)
    policy = load_section_file(config, "deid_policy")
    prepare_output(args.output, args.overwrite)
    summary_path = Path(args.output) / "deid_summary.json"
    opts = pipeline_options(list(beam_args or []))
    systems = list((config.get("link") or {}).get("identifier_systems") or [])
    fhir_version = str((config.get("fhir") or {}).get("version") or "R4")
    tables = tuple((config.get("terminology") or {}).get("display_tables") or [])
    with beam.Pipeline(options=opts) as p:
        files = (p
                 | "Inputs" >> beam.Create([s.as_dict() for s in sources])
                 | "List" >> beam.ParDo(ExpandSource())
                 | "Spread" >> beam.Reshuffle())
        index = files | "IndexPatients" >> beam.ParDo(IndexPatients(systems)).with_outputs(
            "link", "patient", "latest")
        links = index.link | "OnePatientPerValue" >> beam.CombinePerKey(min)
        patients = index.patient | "OnePatientResource" >> beam.CombinePerKey(_first)
        latest = index.latest | "LatestDate" >> beam.CombinePerKey(max)
        (files
         | "Deidentify" >> beam.ParDo(DeidFile(secret.value, policy, args.output, fhir_version, tables),
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
          f"rejected {sum(v for k, v in counts.items() if k.startswith('files:rejected'))}")
    print(f"summary (counts only): {summary_path}")
    return 0
