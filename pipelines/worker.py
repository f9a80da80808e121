"""The SDK worker process of the local multi-process runner (``pipelines.local_runner``).

Beam's own ``sdk_worker_main``, started so that a local build stays quiet and stoppable:

* SIGINT is ignored: Ctrl-C in the terminal reaches every process of the foreground group, and
  the driver alone handles it (it stops the job, cleans the output and prints one line); workers
  exit when the driver closes their control channel.
* Log records are printed only from ERROR up (from INFO with ``medcorpus -v``), so Beam's start-up
  notes ("Logging handler created", "No semi_persistent_directory", optional GCP clients) do not
  run into the progress display.
"""
from __future__ import annotations

import logging
import os
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verbose = os.environ.get("MEDCORPUS_VERBOSE") == "1"
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.INFO if verbose else logging.ERROR)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s (worker): %(message)s"))
    logging.getLogger().addHandler(handler)  # before Beam's imports, which would call basicConfig
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
