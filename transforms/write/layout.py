"""Write one split family as its two dataset configs: text-only rows and rows with images.

TRL's trainers take any ``image``/``images`` column for vision data and Hugging Face ``datasets``
wants one schema per config, so each family (pretraining, sft, preference, evaluation) is written
as a text-only table without image columns and a multimodal table (``pretraining_images``,
``sft_multimodal``, ...) whose image columns are declared ``Image`` features
(``schemas.tables.LAYOUT``).
"""
from __future__ import annotations

import apache_beam as beam

from schemas.tables import LAYOUT, SPLITS, table_for
from transforms.write.parquet import WriteTable


def _route(row: dict, n: int, family: str) -> int:
    return LAYOUT[family].index(table_for(family, row))


class WriteSplitFamily(beam.PTransform):
    """rows of ``family`` -> {"tables": {table: rows}, "rejected", "events"} (each table written)."""

    def __init__(self, out_dir: str, family: str, rows_per_shard: int):
        super().__init__()
        self.out_dir, self.family, self.rows_per_shard = out_dir, family, rows_per_shard

    def expand(self, rows):
        parts = rows | "Route" >> beam.Partition(_route, len(LAYOUT[self.family]), self.family)
        tables, rejected, events = {}, [], []
        for table, part in zip(LAYOUT[self.family], parts):
            written = part | f"Write_{table}" >> WriteTable(self.out_dir, table, SPLITS[table], self.rows_per_shard,
                                                             ledger="rows")
            tables[table] = part
            rejected.append(written["rejected"])
            events.append(written["events"])
        return {"tables": tables,
                "rejected": tuple(rejected) | "Rejected" >> beam.Flatten(),
                "events": tuple(events) | "Events" >> beam.Flatten()}
