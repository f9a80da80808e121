"""The local multi-process runner: Beam's FnApiRunner (what the DirectRunner uses) with SDK worker
processes started as ``python -m pipelines.worker`` instead of Beam's ``sdk_worker_main``, so they
ignore Ctrl-C and keep their start-up log lines to themselves (see ``pipelines.worker``).
Everything else — fusion, bundles, the data plane, results — is Beam's.
"""
from __future__ import annotations

import sys

from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

BEAM_WORKER = "-m apache_beam.runners.worker.sdk_worker_main"
OUR_WORKER = "-m pipelines.worker"


class LocalRunner(FnApiRunner):
    def run_via_runner_api(self, pipeline_proto, options):
        for env in pipeline_proto.components.environments.values():
            if env.urn == python_urns.SUBPROCESS_SDK:
                command = env.payload.decode("utf-8")
                if command.strip() == f"{sys.executable} {BEAM_WORKER}":
                    # Beam runs the command through /bin/sh: exec, so no shell is left to die of Ctrl-C
                    env.payload = f"exec {sys.executable} {OUR_WORKER}".encode("utf-8")
        return super().run_via_runner_api(pipeline_proto, options)


def runner_for(opts):
    """The runner object to build with: ours for the default multi-process DirectRunner, else None
    (Beam resolves ``--runner`` itself)."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    std = opts.view_as(StandardOptions)
    if std.runner in ("DirectRunner", "direct") and opts.view_as(DirectOptions).direct_running_mode == "multi_processing":
        return LocalRunner()
    return None
