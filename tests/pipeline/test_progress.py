"""The live progress line: counts come from the ledger events the stages emit (summed across
worker processes through small files); the running stage is the one that moved last. Instant."""
from __future__ import annotations

import time

from pipelines.progress import status_text
from transforms import progress


def test_events_are_counted_per_process_and_summed_for_the_display(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV, str(tmp_path))
    monkeypatch.setattr(progress, "_pid", None)  # as in a new worker process
    from transforms.base import event

    for _ in range(3):
        event("units", "read", "in", "", "fhir")
    event("units", "read", "rejected", "invalid_json", "fhir")
    event("units", "deid", "out", "", "fhir", n=2)
    deadline = time.time() + 5
    while time.time() < deadline and not list(tmp_path.glob("*.json")):
        time.sleep(0.1)
    counts, last = progress.read_all(str(tmp_path))
    assert counts == {"units|read|in": 3, "units|read|rejected": 1, "units|deid|out": 2}
    line = status_text(65, counts, last, max(last.values()) + 1)
    assert line == "1:05  de-identifying  ·  read 3 · de-identified 2 · rejected 1"


def test_without_the_directory_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setattr(progress, "_pid", None)
    progress.tick("units", "read", "in", 1)
    assert progress._dir is None and not list(tmp_path.iterdir())


def test_a_stage_that_stopped_moving_is_shown_as_such():
    line = status_text(5, {}, {"split": 100.0}, 110.0)
    assert line == "0:05  after split: grouping or writing"
    assert status_text(0, {}, {}, 0) == "0:00  starting the pipeline"


def test_a_new_run_is_counted_while_the_previous_runs_flusher_still_sleeps(tmp_path, monkeypatch):
    """A build ends (its directory removed) just before the next run starts in the same process: the
    old flusher must not take the new run's pending counts with it (they were never written)."""
    import shutil

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv(progress.ENV, str(first))
    monkeypatch.setattr(progress, "_pid", None)
    progress.tick("units", "read", "in", 1)
    time.sleep(0.1)
    shutil.rmtree(first)
    monkeypatch.setenv(progress.ENV, str(second))
    monkeypatch.setattr(progress, "_pid", None)
    for _ in range(3):
        progress.tick("units", "read", "in", 1)
    deadline = time.time() + 5
    while time.time() < deadline and not list(second.glob("*.json")):
        time.sleep(0.1)
    assert progress.read_all(str(second))[0] == {"units|read|in": 3}
