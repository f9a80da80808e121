"""Read and parse: source patterns -> input units (FHIR resources, text documents, DICOM instances).

Listing happens on the workers (``FileSystems.match``), files are read with ``FileSystems.open``
so the same code reads local paths, ``gs://`` and ``s3://``. Every file yields units or rejects;
a bad file never stops the run.
"""
from __future__ import annotations

import gzip
import io
import os
import zipfile

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from transforms.base import EVENTS, IN, OUT, REJECT, REJECTED, event, rejected_row

STAGE = "read"


def relative_source(kind: str, path: str, root: str) -> str:
    rel = path
    if root and path.startswith(root):
        rel = path[len(root):].lstrip("/\\") or os.path.basename(path)
    return f"{kind}:{rel}"


class ExpandSource(beam.DoFn):
    """{kind, pattern, root} -> one {kind, path, source, size} per matching file (sorted)."""

    def process(self, src: dict):
        result = FileSystems.match([src["pattern"]])[0]
        for meta in sorted(result.metadata_list, key=lambda m: m.path):
            yield {
                "kind": src["kind"],
                "path": meta.path,
                "source": relative_source(src["kind"], meta.path, src["root"]),
                "size": meta.size_in_bytes,
            }


class ReadFile(beam.DoFn):
    """One file -> its units (main output), rejects and ledger events."""

    def __init__(self, config: dict):
        super().__init__()
        self.fhir_version = config["fhir"]["version"]
        self.fhir_mode = config["fhir"]["mode"]
        self.csv_text_column = config["text"]["csv_text_column"]
        self.max_bytes = int(float(config["limits"]["max_file_mb"]) * 1024 * 1024)

    def _reject(self, f: dict, position: str, kind: str, message: str):
        yield event("units", STAGE, IN, "", f["kind"])
        yield event("units", STAGE, REJECT, kind, f["kind"])
        yield pvalue.TaggedOutput(REJECTED, rejected_row(f["source"], position, f["kind"], STAGE, kind, message))

    def process(self, f: dict):
        yield event("files", STAGE, IN, "", f["kind"])
        if f["size"] > self.max_bytes:
            yield from self._reject(f, "file", "file_too_large",
                                    f"file is {f['size']} bytes, over the configured cap of {self.max_bytes} bytes")
            return
        if f["size"] == 0:
            yield from self._reject(f, "file", "empty_file", "zero-byte file")
            return
        try:
            with FileSystems.open(f["path"], compression_type="uncompressed") as fh:
                data = fh.read()
        except Exception as exc:  # noqa: BLE001
            yield from self._reject(f, "file", "unreadable_file", f"cannot open file ({type(exc).__name__})")
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
            else:
                yield event("units", STAGE, IN, "", f["kind"])
                yield event("units", STAGE, OUT, "", f["kind"])
                yield item

    # -- parsers -----------------------------------------------------------------------
    def _fhir(self, data: bytes, f: dict):
        from transforms.io.fhir_parse import iter_fhir_units, patient_ref_of

        units = []
        for item in iter_fhir_units(data, f["source"], fhir_version=self.fhir_version,
                                    mode=self.fhir_mode, max_bytes=self.max_bytes):
            if item.get("reject"):
                yield item
                continue
            if "full_url" not in item:  # NDJSON / single resource: references are Type/id
                item["patient_ref"] = patient_ref_of(item["resource"], None)
                yield item
            else:
                units.append(item)
        if units:  # bundle entries: resolve urn:uuid references within the bundle
            full_urls = {u["full_url"]: u["resource"] for u in units if u.get("full_url")}
            for item in units:
                item["patient_ref"] = patient_ref_of(item["resource"], full_urls)
                yield item

    def _text(self, data: bytes, f: dict):
        from transforms.io.text_parse import iter_text_units

        yield from iter_text_units(data, f["source"], csv_text_column=self.csv_text_column,
                                   max_bytes=self.max_bytes)

    def _dicom(self, data: bytes, f: dict):
        from transforms.io.dicom_read import DicomReadError, instance_summary, read_dataset

        members = [("file", data)]
        if data[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    members = [(f"member {i}", zf.read(info)) for i, info in
                               enumerate(sorted(zf.infolist(), key=lambda x: x.filename)) if not info.is_dir()]
            except (zipfile.BadZipFile, OSError, EOFError):
                yield {"reject": True, "position": "file", "error_kind": "bad_zip", "message": "unreadable zip archive"}
                return
        elif data[:2] == b"\x1f\x8b":
            try:
                members = [("file", gzip.decompress(data))]
            except (OSError, EOFError):
                yield {"reject": True, "position": "file", "error_kind": "bad_gzip", "message": "unreadable gzip file"}
                return
        for position, blob in members:
            try:
                ds = read_dataset(blob, headers_only=True)
                summary = instance_summary(ds)
            except DicomReadError as exc:
                yield {"reject": True, "position": position, "error_kind": exc.kind, "message": exc.message}
                continue
            if not summary.get("SOPInstanceUID") or not summary.get("StudyInstanceUID"):
                yield {"reject": True, "position": position, "error_kind": "missing_uid",
                       "message": "DICOM object without StudyInstanceUID or SOPInstanceUID"}
                continue
            yield {"kind": "dicom", "source": f["source"], "position": position, "data": blob,
                   "link_id": summary.get("PatientID") or None,
                   "study_uid": summary["StudyInstanceUID"], "series_uid": summary.get("SeriesInstanceUID") or "",
                   "sop_uid": summary["SOPInstanceUID"]}


class ReadSources(beam.PTransform):
    """PCollection of source dicts -> {"units", "rejected", "events", "inputs" (path, bytes, sha256)}."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = config

    def expand(self, sources):
        files = (sources
                 | "ListFiles" >> beam.ParDo(ExpandSource())
                 | "SpreadFiles" >> beam.Reshuffle())
        res = files | "ReadAndParse" >> beam.ParDo(ReadFile(self.config)).with_outputs(
            REJECTED, EVENTS, "inputs", main="units")
        return {"units": res.units, "rejected": res[REJECTED], "events": res[EVENTS], "inputs": res.inputs}
