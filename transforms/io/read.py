"""Read and parse: source patterns -> input units (FHIR resources, text documents, DICOM instances).

Listing happens on the workers (``transforms.io.listing``), files are read with
``FileSystems.open`` so the same code reads local paths, ``gs://`` and ``s3://``. A file reached
through two sources (or a link) is read once. Every file yields units or rejects under the
configured limits (``transforms.io.limits``); a bad file never stops the run. ``medcorpus deid``
lists and reads with the same code (``ListFiles``, ``read_file_bytes``, the parsers).
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from transforms.base import EVENTS, IN, OUT, REJECT, REJECTED, event, rejected_row
from transforms.io.limits import Limits
from transforms.io.listing import relative_source  # noqa: F401 - kept importable from here

STAGE = "read"


class ReadProblem(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def read_file_bytes(f: dict, limits: Limits) -> bytes:
    """The bytes of a listed file, or ``ReadProblem`` (listing reject, too large, empty, unreadable)."""
    if f.get("reject"):
        raise ReadProblem(*f["reject"])
    if f["size"] > limits.max_file_bytes:
        raise ReadProblem("file_too_large", f"file is {f['size']} bytes, over the configured cap of "
                                            f"{limits.max_file_bytes} bytes (limits.max_file_mb)")
    if f["size"] == 0:
        raise ReadProblem("empty_file", "zero-byte file")
    try:
        with FileSystems.open(f["path"], compression_type="uncompressed") as fh:
            data = fh.read(limits.max_file_bytes + 1)
    except Exception as exc:  # noqa: BLE001
        raise ReadProblem("unreadable_file", f"cannot open file ({type(exc).__name__})") from None
    if len(data) > limits.max_file_bytes:  # grew since it was listed
        raise ReadProblem("file_too_large", f"file is over the configured cap of {limits.max_file_bytes} bytes "
                                            "(limits.max_file_mb)")
    return data


class ExpandSource(beam.DoFn):
    """{kind, pattern, root, label, order} -> one file dict per matching file (``transforms.io.listing``)."""

    def process(self, src: dict):
        from transforms.io.listing import list_source

        yield from list_source(src)


def _first(item):
    _, files = item
    return min(files, key=lambda f: (f.get("order", 0), f["path"]))


class ListFiles(beam.PTransform):
    """Source dicts -> file dicts, each distinct file once (by real path), spread over workers."""

    def expand(self, sources):
        return (sources
                | "Expand" >> beam.ParDo(ExpandSource())
                | "KeyByFile" >> beam.Map(lambda f: (f.get("key") or f["path"], f))
                | "OncePerFile" >> beam.GroupByKey()
                | "First" >> beam.Map(_first))


class ReadFile(beam.DoFn):
    """One file -> its units (main output), rejects and ledger events."""

    def __init__(self, config: dict):
        super().__init__()
        self.fhir_version = config["fhir"]["version"]
        self.fhir_mode = config["fhir"]["mode"]
        self.csv_text_column = config["text"]["csv_text_column"]
        self.limits = Limits.from_config(config)

    def _reject(self, f: dict, position: str, kind: str, message: str):
        yield event("units", STAGE, IN, "", f["kind"])
        yield event("units", STAGE, REJECT, kind, f["kind"])
        yield pvalue.TaggedOutput(REJECTED, rejected_row(f["source"], position, f["kind"], STAGE, kind, message))

    def process(self, f: dict):
        yield event("files", STAGE, IN, "", f["kind"])
        try:
            data = read_file_bytes(f, self.limits)
        except ReadProblem as exc:
            # listed but not read (too large, empty, unreadable, a symlink): still mapped in lineage/sources
            yield pvalue.TaggedOutput("inputs", {"source": f["source"], "bytes": f.get("size"), "sha256": None})
            yield from self._reject(f, "file", exc.kind, exc.message)
            return
        import hashlib

        yield pvalue.TaggedOutput("inputs", {"source": f["source"], "bytes": len(data),
                                             "sha256": hashlib.sha256(data).hexdigest()})
        parse = {"fhir": self._fhir, "text": self._text, "dicom": self._dicom}[f["kind"]]
        try:
            items = list(parse(data, f))
        except Exception as exc:  # noqa: BLE001 - a parser bug on one file must not stop the run
            yield from self._reject(f, "file", f"internal:{type(exc).__name__}",
                                    "the file could not be parsed; details withheld (may contain PHI)")
            return
        for item in items:
            if isinstance(item, dict) and item.get("reject"):
                yield from self._reject(f, item.get("position", "file"), item["error_kind"], item["message"])
            elif isinstance(item, dict):
                yield event("units", STAGE, IN, "", f["kind"])
                yield event("units", STAGE, OUT, "", f["kind"])
                yield item
            else:
                yield item  # a ledger event of the parser

    # -- parsers -----------------------------------------------------------------------
    def _encoding_events(self, parsed, kind: str):
        if parsed.encoding and parsed.encoding != "utf-8":
            yield event("encodings", STAGE, "decoded", parsed.encoding, kind)
        if parsed.replaced:
            yield event("encodings", STAGE, "replaced_invalid_utf8", "", kind, parsed.replaced)

    def _fhir(self, data: bytes, f: dict):
        from transforms.io.fhir_parse import read_fhir

        parsed = read_fhir(data, f["source"], fhir_version=self.fhir_version, mode=self.fhir_mode,
                           limits=self.limits)
        yield from self._encoding_events(parsed, "fhir")
        yield from parsed.items

    def _text(self, data: bytes, f: dict):
        from transforms.io.text_parse import read_text

        parsed = read_text(data, f["source"], csv_text_column=self.csv_text_column, limits=self.limits)
        yield from self._encoding_events(parsed, "text")
        yield from parsed.items

    def _dicom(self, data: bytes, f: dict):
        from transforms.io.dicom_read import iter_dicom_units

        yield from iter_dicom_units(data, f["source"], self.limits)


class ReadSources(beam.PTransform):
    """PCollection of source dicts -> {"units", "rejected", "events", "inputs" (every listed file:
    relative path, bytes, sha256 or None when it was not read)}."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = config

    def expand(self, sources):
        files = sources | "ListFiles" >> ListFiles()
        res = files | "ReadAndParse" >> beam.ParDo(ReadFile(self.config)).with_outputs(
            REJECTED, EVENTS, "inputs", main="units")
        return {"units": res.units, "rejected": res[REJECTED], "events": res[EVENTS], "inputs": res.inputs}
