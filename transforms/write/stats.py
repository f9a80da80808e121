"""Sum ledger events and write them as one small JSON file for the driver's manifest."""
from __future__ import annotations

import apache_beam as beam
import orjson
from apache_beam.io.filesystems import FileSystems

STATS_FILE = "events.json"


class _WriteEvents(beam.DoFn):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def process(self, item):
        _, pairs = item
        rows = sorted([list(key) + [n] for key, n in pairs])
        with FileSystems.create(self.path) as fh:
            fh.write(orjson.dumps(rows))
        yield self.path


class WriteEvents(beam.PTransform):
    """((ledger, stage, outcome, reason, source_kind), n) events -> ``<stats_dir>/events.json``."""

    def __init__(self, stats_dir: str):
        super().__init__()
        self.path = FileSystems.join(stats_dir, STATS_FILE)

    def expand(self, events):
        return (
            events
            | "SumEvents" >> beam.CombinePerKey(sum)
            | "OneKey" >> beam.Map(lambda kv: (None, kv))
            | "Gather" >> beam.GroupByKey()
            | "WriteEventsFile" >> beam.ParDo(_WriteEvents(self.path))
        )
