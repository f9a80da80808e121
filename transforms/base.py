"""The shared base of every medcorpus operator: dead letters, ledger events and counters.

An operator implements only its domain decision in ``apply(element)``:

* return/yield outputs (usually one) to pass the element on;
* ``raise Filter("reason")`` to drop it on purpose (counted under that reason);
* ``raise Reject("kind", "message")`` when the input is bad (it goes to ``rejected/``).

Any other exception is caught too and rejected as ``internal:<ExceptionType>`` *without* its
message, because exception text can quote input values (PHI). The run never crashes on one
record and no record vanishes uncounted.

Ledger events are ``((ledger, stage, outcome, reason, source_kind), n)`` pairs on the ``events``
output; the driver sums them into the manifest and checks ``in == out + filtered + rejected``
for every stage.
"""
from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

MAIN = "main"
REJECTED = "rejected"
EVENTS = "events"

IN, OUT, FILTERED, REJECT = "in", "out", "filtered", "rejected"


class Filter(Exception):
    """Drop an element on purpose; ``reason`` is a short, PHI-free snake_case label."""

    def __init__(self, reason: str, side_outputs: list | None = None):
        super().__init__(reason)
        self.reason = reason
        self.side_outputs = list(side_outputs or [])  # e.g. a review-queue row


class Reject(Exception):
    """Send an element to ``rejected/``; the message must not quote input values."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def quiet_libraries() -> None:
    """Keep worker logs free of library chatter (pydicom value warnings, Presidio registry notes)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", module="pydicom")
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("pydicom", "presidio-analyzer", "presidio-anonymizer", "tldextract"):
        logging.getLogger(name).setLevel(logging.ERROR)


def event(ledger: str, stage: str, outcome: str, reason: str = "", source_kind: str = "", n: int = 1):
    from transforms.progress import tick

    tick(ledger, stage, outcome, n)  # the local progress display (a no-op elsewhere)
    return pvalue.TaggedOutput(EVENTS, ((ledger, stage, outcome, reason, source_kind), n))


def rejected_row(source: str, position: str, source_kind: str, stage: str, kind: str, message: str) -> dict:
    return {
        "source": source or "",
        "position": position or "",
        "source_kind": source_kind or "",
        "stage": stage,
        "error_kind": kind,
        "message": message,
    }


class Operator(beam.DoFn):
    """Base DoFn: subclasses set ``stage``/``ledger`` and implement ``apply``."""

    stage: str = "stage"
    ledger: str = "units"

    def __init__(self):
        super().__init__()
        self._counters: dict[str, Any] = {}

    # -- hooks ---------------------------------------------------------------------------
    def apply(self, element) -> Iterable[Any]:  # pragma: no cover - every operator overrides it
        raise TypeError(f"{type(self).__name__} must define apply()")

    def units(self, element) -> int:
        """How many ledger units ``element`` carries (a patient record carries many)."""
        return 1

    def origin(self, element) -> tuple[str, str, str]:
        """(source, position, source_kind) of an element, for rejected rows."""
        if isinstance(element, dict):
            return (
                str(element.get("source", "")),
                str(element.get("position", "")),
                str(element.get("kind") or element.get("source_kind") or ""),
            )
        return ("", "", "")

    # -- plumbing ------------------------------------------------------------------------
    def _count(self, name: str, n: int = 1):
        c = self._counters.get(name)
        if c is None:
            c = self._counters[name] = Metrics.counter(f"medcorpus.{self.stage}", name)
        c.inc(n)

    def process(self, element):
        n = self.units(element)
        source, position, kind = self.origin(element)
        yield event(self.ledger, self.stage, IN, "", kind, n)
        self._count(IN, n)
        try:
            outputs = list(self.apply(element))
        except Filter as f:
            self._count(f"filtered:{f.reason}", n)
            yield event(self.ledger, self.stage, FILTERED, f.reason, kind, n)
            yield from f.side_outputs
            return
        except Reject as r:
            self._count(f"rejected:{r.kind}", n)
            yield event(self.ledger, self.stage, REJECT, r.kind, kind, n)
            yield pvalue.TaggedOutput(REJECTED, rejected_row(source, position, kind, self.stage, r.kind, r.message))
            return
        except Exception as exc:  # noqa: BLE001 - never crash the run on one record
            reason = f"internal:{type(exc).__name__}"
            self._count(f"rejected:{reason}", n)
            yield event(self.ledger, self.stage, REJECT, reason, kind, n)
            yield pvalue.TaggedOutput(
                REJECTED,
                rejected_row(source, position, kind, self.stage, reason,
                             f"unexpected {type(exc).__name__} in stage {self.stage}; details withheld (may contain PHI)"),
            )
            return
        self._count(OUT, n)
        yield event(self.ledger, self.stage, OUT, "", kind, n)
        for out in outputs:
            yield out


def run_operator(pcoll, label: str, op: Operator):
    """Apply ``op`` and return ``(main, rejected, events)`` PCollections."""
    res = pcoll | label >> beam.ParDo(op).with_outputs(REJECTED, EVENTS, main=MAIN)
    return res[MAIN], res[REJECTED], res[EVENTS]
