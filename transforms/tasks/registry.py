"""Task builder registry: ``@register_builder("name")`` on ``fn(record, task, ctx) -> iterable of examples``.

``kind="record"`` builders (the default) get a de-identified patient record; ``kind="document"`` builders
get one standalone document (guidelines, literature). Users add a builder by registering a function in a
module listed under ``tasks.builders`` in the build config; the driver imports and checks those modules at
start-up and the task stage imports them on every worker before building. The contract and the public
helpers are in ``transforms.tasks.plugin``.
"""
from __future__ import annotations

from typing import Callable

BUILDERS: dict[str, Callable] = {}
KINDS: dict[str, str] = {}


def register_builder(name: str, kind: str = "record"):
    def wrap(fn):
        BUILDERS[name] = fn
        KINDS[name] = kind
        return fn

    return wrap
