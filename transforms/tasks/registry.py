"""Task builder registry: ``@register_builder("name")`` on ``fn(record, task, ctx) -> iterable of examples``.

Users add a builder by registering a function in a module listed under ``tasks.builders`` in the
build config; the task stage imports those modules on every worker before building.
"""
from __future__ import annotations

from typing import Callable

BUILDERS: dict[str, Callable] = {}


def register_builder(name: str):
    def wrap(fn):
        BUILDERS[name] = fn
        return fn

    return wrap
