"""Write a table as deterministic Parquet shards that enforce its declared Arrow schema.

Rows are conformed to the schema first (a row that does not fit goes to ``rejected/`` with the
column named, never crashing the write). The number of shards follows the row count
(``ceil(rows / rows_per_shard)``, at least one, so every split exists even when empty); a row's
shard is a hash of its id and rows are sorted by id inside a shard, so the same rows give
byte-identical files on any runner. Files are ``<table>/part-SSSSS-of-NNNNN.parquet``.
"""
from __future__ import annotations

import hashlib
import io
import math

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from schemas.tables import conform
from transforms.base import EVENTS, OUT, REJECT, REJECTED, event, rejected_row


def shard_name(index: int, count: int) -> str:
    return f"part-{index:05d}-of-{count:05d}.parquet"


def shard_of(row_id: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(row_id.encode("utf-8")).digest()[:8], "big") % count


def write_shard(path: str, rows: list[dict], schema: pa.Schema) -> None:
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: str(r.get("id") or r.get("source", "")) + "\x1f" + str(r.get("position", "")) + str(r.get("stage", ""))), schema=schema)
    buf = io.BytesIO()
    if table.num_rows:
        pq.write_table(table, buf, compression="zstd", write_statistics=True)
    else:  # no row group at all: readers (Hugging Face datasets among them) choke on a 0-row row group
        pq.ParquetWriter(buf, schema, compression="zstd").close()
    with FileSystems.create(path) as fh:
        fh.write(buf.getvalue())


class _Conform(beam.DoFn):
    def __init__(self, table: str, schema: pa.Schema, ledger: str | None):
        super().__init__()
        self.table, self.schema, self.ledger = table, schema, ledger

    def process(self, row: dict):
        try:
            out = conform(row, self.schema)
        except ValueError as exc:
            if self.ledger:
                yield event(self.ledger, "write", REJECT, "schema_mismatch", row.get("source_kind", ""))
            yield pvalue.TaggedOutput(REJECTED, rejected_row(
                str(row.get("source", row.get("id", ""))), str(row.get("position", "")), str(row.get("source_kind", "")),
                "write", "schema_mismatch", f"{self.table}: {exc}"))
            return
        if self.ledger:
            yield event(self.ledger, "write", OUT, self.table, row.get("source_kind", ""))
        yield out


class _WriteShard(beam.DoFn):
    def __init__(self, out_dir: str, table: str, schema: pa.Schema):
        super().__init__()
        self.out_dir, self.table, self.schema = out_dir, table, schema

    def process(self, item, count):
        index, rows = item
        path = FileSystems.join(self.out_dir, self.table, shard_name(index, count))
        write_shard(path, list(rows), self.schema)
        yield path


class _WriteEmpty(beam.DoFn):
    def __init__(self, out_dir: str, table: str, schema: pa.Schema):
        super().__init__()
        self.out_dir, self.table, self.schema = out_dir, table, schema

    def process(self, _, total):
        if total == 0:
            path = FileSystems.join(self.out_dir, self.table, shard_name(0, 1))
            write_shard(path, [], self.schema)
            yield path


class WriteTable(beam.PTransform):
    """rows -> Parquet shards under ``out_dir/table``; returns {"paths", "rejected", "events"}."""

    def __init__(self, out_dir: str, table: str, schema: pa.Schema, rows_per_shard: int = 50_000,
                 ledger: str | None = None):
        super().__init__()
        self.out_dir, self.table, self.schema = out_dir, table, schema
        self.rows_per_shard = max(1, int(rows_per_shard))
        self.ledger = ledger

    def expand(self, rows):
        res = rows | "Conform" >> beam.ParDo(_Conform(self.table, self.schema, self.ledger)).with_outputs(
            REJECTED, EVENTS, main="rows")
        good = res.rows
        total = good | "Count" >> beam.combiners.Count.Globally()
        per = self.rows_per_shard
        count = total | "ShardCount" >> beam.Map(lambda n: max(1, math.ceil(n / per)))
        paths = (
            good
            | "KeyByShard" >> beam.Map(lambda r, c: (shard_of(str(r.get("id") or r.get("source", "")) + str(r.get("position", "")), c), r),
                                       c=beam.pvalue.AsSingleton(count))
            | "GroupShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out_dir, self.table, self.schema),
                                         count=beam.pvalue.AsSingleton(count))
        )
        empty = (
            rows.pipeline
            | "Once" >> beam.Create([None])
            | "WriteEmpty" >> beam.ParDo(_WriteEmpty(self.out_dir, self.table, self.schema),
                                         total=beam.pvalue.AsSingleton(total))
        )
        all_paths = (paths, empty) | "Paths" >> beam.Flatten()
        return {"paths": all_paths, "rejected": res[REJECTED], "events": res[EVENTS]}
