"""``medcorpus deid INPUT... --output DIR``: de-identified copies in their own formats, as a Beam job.

Files are listed and read on the workers; each is de-identified by ``transforms.deid.files``;
outputs keep the relative layout under DIR (DICOM paths are pseudonymised). A summary of counts
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


class DeidFile(beam.DoFn):
    def __init__(self, secret: bytes, policy: dict, output: str):
        super().__init__()
        self.secret, self.policy, self.output = secret, policy, output
        self.worker = None

    def setup(self):
        from transforms.base import quiet_libraries
        from transforms.deid.files import FileDeidentifier

        quiet_libraries()
        self.worker = FileDeidentifier(self.secret, self.policy)

    def _out_path(self, rel: str, kind: str) -> str:
        from transforms.deid.keys import hmac_hex

        if kind == "dicom":
            parts = rel.split("/")
            rel = "/".join(hmac_hex(self.secret, "path", p, 16) for p in parts[:-1]) + \
                ("/" if len(parts) > 1 else "") + hmac_hex(self.secret, "path", rel, 24) + ".dcm"
        return FileSystems.join(self.output, rel)

    def process(self, f: dict):
        from transforms.deid.files import sniff_kind
        from transforms.io.dicom_read import DicomReadError

        counts: Counter = Counter()
        with FileSystems.open(f["path"], compression_type="uncompressed") as fh:
            data = fh.read()
        rel = f["source"].split(":", 1)[1]
        gz = data[:2] == b"\x1f\x8b"
        raw = gzip.decompress(data) if gz else data
        kind = sniff_kind(raw, rel)
        counts[f"files:{kind}"] += 1
        try:
            if kind == "fhir-json":
                out = self.worker.fhir_json(raw, counts)
            elif kind == "fhir-ndjson":
                out = self.worker.fhir_ndjson(raw, counts)
            elif kind == "jsonl":
                out = self.worker.jsonl(raw, counts)
            elif kind in ("text", "csv"):
                out = self.worker.text_file(raw, rel, counts)
            elif kind == "dicom":
                out, reason = self.worker.dicom(raw, counts)
                if out is None:
                    counts["files:quarantined"] += 1
                    yield dict(counts)
                    return
            else:
                counts[f"files:rejected:{kind}"] += 1
                yield dict(counts)
                return
        except (DicomReadError, UnicodeDecodeError, ValueError) as exc:
            counts[f"files:rejected:{type(exc).__name__}"] += 1
            yield dict(counts)
            return
        if gz:
            out = gzip.compress(out, mtime=0)
        from apache_beam.io.filesystem import CompressionTypes

        path = self._out_path(rel, "dicom" if kind == "dicom" else "other")
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(out)
        counts["files:written"] += 1
        yield dict(counts)


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
    with beam.Pipeline(options=opts) as p:
        (p
         | "Inputs" >> beam.Create([s.as_dict() for s in sources])
         | "List" >> beam.ParDo(ExpandSource())
         | "Spread" >> beam.Reshuffle()
         | "Deidentify" >> beam.ParDo(DeidFile(secret.value, policy, args.output))
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
