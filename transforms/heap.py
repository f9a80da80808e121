"""Keep the cyclic garbage collector off the engines a worker loads once.

A worker process holds large, permanent object graphs after its first element: the
``fhir.resources`` model classes, the spaCy pipeline and Presidio recognizers, the name and place
lexicons, the UCUM unit registry. Python's collector walks every tracked object on each full
collection, and allocating many small dicts per record (parsed FHIR) triggers collections often,
so these graphs were walked again and again (about a sixth of the CPU of a records-only build).
``gc.freeze()`` moves the objects alive at that moment to a permanent generation that collections
skip; they are still freed by reference counting, so only cyclic garbage alive at that instant is
kept for the life of the process. Outputs do not change: collection never changes a value.
"""
from __future__ import annotations

import gc

_DONE: set[str] = set()


def freeze_loaded_heap(after: str) -> None:
    """Once per process and ``after`` label (e.g. the first record of a stage whose engines load on
    first use): move what is alive now out of the collector's reach."""
    if after in _DONE:
        return
    _DONE.add(after)
    gc.freeze()
