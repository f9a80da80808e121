"""Beam runners that medcorpus adds to Beam's own (see ``dask_runner``).

``RUNNER_ALIASES`` maps the short names accepted by ``--runner`` to the runner class path.
"""
from __future__ import annotations

DASK_RUNNER = "pipelines.runners.dask_runner.DaskRunner"

#: ``--runner NAME`` (case-insensitive) -> runner class path
RUNNER_ALIASES = {"dask": DASK_RUNNER, "daskrunner": DASK_RUNNER}


def resolve_runner(name: str | None) -> str | None:
    """The runner class path for a short name medcorpus adds, else ``name`` unchanged."""
    if not name:
        return name
    return RUNNER_ALIASES.get(name.lower(), name)


def is_dask(name: str | None) -> bool:
    return resolve_runner(name) == DASK_RUNNER
