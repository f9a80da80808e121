"""Live counts for the local progress display: a tap on the ledger events every stage emits.

When the driver sets ``MEDCORPUS_PROGRESS_DIR`` (local runners only: worker processes inherit it),
each process sums the events it emits per (ledger, stage, outcome) and rewrites one small JSON file
there at most twice a second, with the time each stage last moved. Without the variable (Dataflow,
Flink, tests) ``tick`` returns at once. The files hold counts only.
"""
from __future__ import annotations

import os
import threading
import time

ENV = "MEDCORPUS_PROGRESS_DIR"
INTERVAL_S = 0.5

_dir: str | None = None
_pid: int | None = None
_counts: dict[str, int] = {}
_last: dict[str, float] = {}
_dirty = False
_generation = 0  # bumped by each start: a flusher of an earlier start stops
_lock = threading.Lock()


def tick(ledger: str, stage: str, outcome: str, n: int) -> None:
    global _dir, _pid, _dirty
    if _pid != os.getpid() or _dir != (os.environ.get(ENV) or None):  # a new process, fork or run
        _start()
    if not _dir:
        return
    key = f"{ledger}|{stage}|{outcome}"
    with _lock:
        _counts[key] = _counts.get(key, 0) + n
        _last[stage] = time.time()
        _dirty = True


def _start() -> None:
    global _dir, _pid, _generation, _lock
    if _pid is not None and _pid != os.getpid():
        _lock = threading.Lock()  # a forked child: the parent's lock may have been held at the fork
    with _lock:
        _pid = os.getpid()
        _dir = os.environ.get(ENV) or None
        _counts.clear()
        _last.clear()
        _generation += 1
        if _dir:
            threading.Thread(target=_flush_loop, args=(_dir, _generation), name="medcorpus-progress",
                             daemon=True).start()


def _flush_loop(directory: str, generation: int) -> None:
    global _dirty
    import json

    path = os.path.join(directory, f"{os.getpid()}-{threading.get_ident()}.json")
    while os.path.isdir(directory):
        time.sleep(INTERVAL_S)
        with _lock:
            if _generation != generation:
                return  # a later start took over: the counts (and the dirty flag) are its own
            if not _dirty:
                continue
            data = json.dumps({"counts": _counts, "last": _last})
            _dirty = False
        try:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:
            return  # the run ended and removed the directory


def read_all(directory: str) -> tuple[dict[str, int], dict[str, float]]:
    """Sum every process's file: counts per "ledger|stage|outcome", and when each stage last moved."""
    import json

    counts: dict[str, int] = {}
    last: dict[str, float] = {}
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json")]
    except OSError:
        return counts, last
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        for k, v in data.get("counts", {}).items():
            counts[k] = counts.get(k, 0) + int(v)
        for k, v in data.get("last", {}).items():
            last[k] = max(last.get(k, 0.0), float(v))
    return counts, last
