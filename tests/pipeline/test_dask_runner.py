"""`--runner dask` on a real dask.distributed cluster: a `dask scheduler` and `dask worker --nworkers 2`
started as separate processes on the loopback interface.

* Beam semantics the stock DaskRunner gets wrong, each on a tiny pipeline: every sink runs, tagged
  outputs reach only their consumer, ``finish_bundle`` output is kept, a side input is computed
  once however many partitions read it, a worker's error reaches the driver.
* The bundled sample built on the cluster writes exactly the rows of the DirectRunner.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam import pvalue
from apache_beam.options.pipeline_options import PipelineOptions

from tests.pipeline.helpers import build, shared_build, sorted_rows

REPO = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MEDCORPUS_SECRET", None)  # the sample uses the published demo secret
    return subprocess.Popen([str(DASK), *args], cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The scheduler's address, once it has two single-threaded worker processes."""
    import dask.distributed as ddist

    tmp = tmp_path_factory.mktemp("dask")
    scheduler_file = tmp / "scheduler.json"
    scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(scheduler_file)], tmp / "scheduler.log")
    workers = None
    try:
        deadline = time.time() + 60
        while not scheduler_file.is_file() and time.time() < deadline:
            assert scheduler.poll() is None, (tmp / "scheduler.log").read_text()
            time.sleep(0.2)
        workers = _start(["worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2", "--nthreads", "1",
                          "--no-dashboard", "--local-directory", str(tmp)], tmp / "workers.log")
        with ddist.Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
            pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids, "two worker processes besides this one"
        yield address
    finally:
        for proc in (workers, scheduler):
            if proc is not None:
                _stop(proc)


def _run(address: str, build_pipeline) -> None:
    opts = PipelineOptions(["--runner", "pipelines.runners.dask_runner.DaskRunner",
                            "--dask_client_address", address, "--dask_npartitions", "3"])
    with beam.Pipeline(options=opts) as p:
        build_pipeline(p)


class _SplitParity(beam.DoFn):
    def process(self, x):
        yield x if x % 2 == 0 else pvalue.TaggedOutput("odd", x)


class _CountBundle(beam.DoFn):
    """Emits nothing per element, one count per bundle from finish_bundle."""

    def start_bundle(self):
        self.n = 0

    def process(self, x):
        self.n += 1

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindows

        yield GlobalWindows.windowed_value(self.n)


def _lines(prefix: Path) -> list[str]:
    return sorted(line for f in prefix.parent.glob(prefix.name + "*") for line in f.read_text().splitlines())


def test_every_sink_runs_and_tagged_outputs_reach_only_their_consumer(cluster, tmp_path):
    def pipeline(p):
        split = p | beam.Create(range(10)) | beam.ParDo(_SplitParity()).with_outputs("odd", main="even")
        split.even | "E" >> beam.Map(str) | "WriteEven" >> beam.io.WriteToText(str(tmp_path / "even"))
        split.odd | "O" >> beam.Map(str) | "WriteOdd" >> beam.io.WriteToText(str(tmp_path / "odd"))

    _run(cluster, pipeline)
    assert _lines(tmp_path / "even") == sorted(str(i) for i in range(0, 10, 2))
    assert _lines(tmp_path / "odd") == sorted(str(i) for i in range(1, 10, 2))
    assert not list(tmp_path.glob("beam-temp-*")), "every write was finalized once"


def test_finish_bundle_output_is_kept(cluster, tmp_path):
    def pipeline(p):
        (p | beam.Create(range(12)) | beam.ParDo(_CountBundle()) | beam.CombineGlobally(sum)
         | beam.Map(str) | beam.io.WriteToText(str(tmp_path / "total")))

    _run(cluster, pipeline)
    assert _lines(tmp_path / "total") == ["12"]


def _mark(x, marks: str):
    """A side input's producer: leaves one file per execution, on whichever worker runs it."""
    import uuid

    Path(marks, uuid.uuid4().hex).touch()
    return x


def test_side_input_is_computed_once_for_all_consumer_partitions(cluster, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()

    def pipeline(p):
        total = p | "One" >> beam.Create([5]) | "Mark" >> beam.Map(_mark, str(marks))
        (p | "Many" >> beam.Create(range(30)) | beam.Reshuffle()
         | beam.Map(lambda x, t: x + t, pvalue.AsSingleton(total))
         | beam.Map(str) | beam.io.WriteToText(str(tmp_path / "sum")))

    _run(cluster, pipeline)
    assert _lines(tmp_path / "sum") == sorted(str(x + 5) for x in range(30))
    assert len(list(marks.iterdir())) == 1


def _fail_on_seven(x):
    if x == 7:
        raise ValueError("seven")
    return x


def test_a_worker_error_fails_the_run_on_the_driver(cluster):
    with pytest.raises(Exception, match="seven"):
        _run(cluster, lambda p: p | beam.Create(range(10)) | beam.Map(_fail_on_seven))


def test_sample_on_two_dask_workers_writes_the_direct_runner_rows(cluster, tmp_path, tmp_path_factory):
    direct = shared_build(tmp_path_factory, "sample-in-memory", "--direct_running_mode", "in_memory")
    manifest = build(tmp_path / "dask", "--runner", "dask", "--dask_client_address", cluster)
    assert manifest["runner"] == "DaskRunner"
    assert manifest["reconciliation"]["ok"], manifest["reconciliation"]["problems"]
    assert sorted_rows(tmp_path / "dask") == sorted_rows(direct)


def test_partitions_pickle_as_values_and_keep_timestamps_windows_and_tags():
    import pickle

    from apache_beam.transforms.window import GlobalWindows, IntervalWindow
    from apache_beam.utils.windowed_value import WindowedValue

    from pipelines.runners.dask_tasks import _Pairs, _Partition

    windowed = [GlobalWindows.windowed_value({"i": i}) for i in range(50)] + \
               [WindowedValue(("k", i), 10 + i, (IntervalWindow(0, 100),)) for i in range(5)]
    part = _Partition(windowed)
    back = pickle.loads(pickle.dumps(part))
    assert [(w.value, w.timestamp, w.windows) for w in back] == [(w.value, w.timestamp, w.windows) for w in part]
    pairs = _Pairs(("even" if i % 2 else None, w) for i, w in enumerate(windowed))
    assert pickle.loads(pickle.dumps(pairs)) == pairs
    many = [GlobalWindows.windowed_value(i) for i in range(2000)]
    packed, values = len(pickle.dumps(_Partition(many))), len(pickle.dumps(list(range(2000))))
    assert packed < values + 1000, "one windowing run for the partition, not one per element"


def test_dask_partitions_grow_with_the_input_size(tmp_path):
    from pipelines.build import DASK_BYTES_PER_PARTITION, dask_partitions_for_input, pipeline_options
    from pipelines.runners.dask_runner import DaskRunnerOptions
    from pipelines.sources import parse_source

    with open(tmp_path / "big.ndjson", "wb") as fh:
        fh.truncate(5 * DASK_BYTES_PER_PARTITION + 1)  # sparse: a size, no data
    sources = [parse_source(f"fhir:{tmp_path}")]
    opts = pipeline_options(["--runner", "dask"])
    dask_partitions_for_input(opts, sources)
    assert opts.view_as(DaskRunnerOptions).dask_min_partitions == 6
    chosen = pipeline_options(["--runner", "dask", "--dask_npartitions", "3"])
    dask_partitions_for_input(chosen, sources)
    assert chosen.view_as(DaskRunnerOptions).dask_min_partitions is None, "the user's choice stands"
