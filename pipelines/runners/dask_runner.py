"""A Beam runner on dask.distributed that runs whole batch pipelines with the DirectRunner's results.

Beam's own ``apache_beam.runners.dask.DaskRunner`` (2.77) translates a pipeline into ``dask.bag``
operations, but on real pipelines it computes only the last sink it visited, hands every tagged
output of a ParDo the elements of all tags, drops what ``finish_bundle`` emits (``WriteToText``
leaves an empty file), recomputes a side input inside every consumer partition, treats Reshuffle
as the identity and lets partition counts add up through every Flatten. This subclass keeps Beam's
options (``DaskOptions``) and transform overrides and replaces the translation with a task graph
built directly, one HighLevelGraph layer per step:

* every transform whose output nobody reads (every sink) is computed, together, in one graph;
* a multi-output ParDo yields ``(tag, value)`` pairs; each consumer selects its own tag;
* a bundle (one partition) is collected after ``finish_bundle``;
* each side input is one graph node (the side collection's partitions concatenated) that the
  consumer's partition tasks reference: computed once, sent once to each worker that needs it;
* Reshuffle repartitions to ``--dask_npartitions`` partitions; GroupByKey is a hash shuffle into
  that many partitions and a Flatten above it is coalesced to it, so partition and task counts stay
  bounded however many collections are flattened;
* a DoFn is unpickled and set up once per worker process and reused by later bundles (Beam's
  DoFn-reuse contract: one bundle at a time per instance; ``teardown`` when an instance is evicted
  or fails).

The functions the graph runs on the workers are in ``dask_tasks``. Both modules depend only on
Beam and dask.distributed, so they can move into Beam as they are. Windowing is Beam's
own: GroupByKey runs Beam's GroupAlsoByWindow after the shuffle. Not supported, as in Beam's
runner: stateful DoFns, timers, splittable DoFns and ``beam.io.Read`` sources (read files in a
ParDo instead), and Beam metrics.

A partition is held in memory as a list while a task runs: choose ``--dask_npartitions`` (or a floor,
``--dask_min_partitions``) so that the largest shuffle's data divided by it fits a worker thread's
memory (default: two per worker thread). A shuffle costs ``inputs x outputs`` small tasks, so keep it
in the hundreds, not thousands.

    python -m my_pipeline --runner pipelines.runners.dask_runner.DaskRunner \\
        --dask_client_address tcp://SCHEDULER:8786 [--dask_npartitions N]

Without ``--dask_client_address`` a local cluster is started (``dask.distributed.LocalCluster``).
"""
from __future__ import annotations

import logging
import operator

from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from apache_beam import pvalue
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.dask import dask_runner as beam_dask
from apache_beam.runners.dask.overrides import _Create, _Flatten, _GroupByKeyOnly, _Reshuffle, dask_overrides
from apache_beam.runners.runner import PipelineResult, PipelineState
from apache_beam.transforms import core
from apache_beam.transforms.window import GlobalWindows

from pipelines.runners.dask_tasks import (_Blob, _concat, _count, _group, _hash_split, _run_bundle, _select, _split,
                                          _values)

#: Beam's options: ``--dask_client_address``, ``--dask_npartitions``, ``--dask_connection_timeout``, ...
DaskOptions = beam_dask.DaskOptions


class UnsupportedOnDask(NotImplementedError):
    """A Beam feature this runner refuses by design (stateful DoFns, timers, splittable DoFns,
    ``beam.io.Read`` sources, metrics; see the README's Known limits): a clear error at graph
    construction, never a silent wrong result. A NotImplementedError, as Beam's runners raise."""


class DaskRunnerOptions(PipelineOptions):
    """Options this runner adds to Beam's ``DaskOptions``."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--dask_min_partitions", type=int, default=None,
            help="Without --dask_npartitions: at least this many partitions per shuffle (default: two per worker "
                 "thread). A partition is held in memory while a task runs; raise this for larger inputs.")

_LOG = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- translation

class _Coll:
    """A distributed collection: the partitions ``(name, 0) .. (name, n - 1)`` of the graph."""

    __slots__ = ("name", "n")

    def __init__(self, name: str, n: int):
        self.name, self.n = name, n

    def keys(self) -> list:
        return [(self.name, i) for i in range(self.n)]


class _Translator(PipelineVisitor):
    """Beam leaf transforms -> task-graph layers, one per step, named after the Beam transform.

    A partition is a list of WindowedValues (of ``(tag, WindowedValue)`` pairs for a multi-output
    ParDo, from which each output selects its tag). ``finish()`` gives the graph and the sink keys.
    """

    def __init__(self, npartitions: int, create_partition_size: int | None = None):
        self.n = max(1, int(npartitions))
        self.create_partition_size = create_partition_size
        self.layers: dict[str, dict] = {}
        self.deps: dict[str, set] = {}
        self.colls: dict = {}        # PCollection -> _Coll
        self.raw: dict = {}          # AppliedPTransform -> _Coll of its own output
        self.consumed: set = set()   # AppliedPTransforms whose output some transform reads
        self.side_keys: dict = {}    # PCollection -> key of its one side-input node
        self._names: set = set()

    # -- graph building ----------------------------------------------------------------------
    def _name(self, label: str, kind: str) -> str:
        base = f"{kind}-{label}"
        name, i = base, 1
        while name in self._names:
            i += 1
            name = f"{base}-{i}"
        self._names.add(name)
        return name

    def _layer(self, name: str, tasks: dict, deps) -> None:
        self.layers[name] = tasks
        self.deps[name] = {d if isinstance(d, str) else d.name for d in deps}

    def _repartition(self, coll: _Coll, n: int, label: str) -> _Coll:
        """``coll`` in exactly ``n`` partitions: adjacent partitions concatenated, or each cut in runs."""
        if coll.n == n:
            return coll
        name = self._name(label, "repartition")
        tasks: dict = {}
        if coll.n > n:
            bounds = [round(j * coll.n / n) for j in range(n + 1)]
            for j in range(n):
                tasks[(name, j)] = (_concat, [(coll.name, i) for i in range(bounds[j], bounds[j + 1])])
            self._layer(name, tasks, [coll])
        else:
            pieces = [n // coll.n + (1 if i < n % coll.n else 0) for i in range(coll.n)]
            split = self._name(label, "split")
            self._layer(split, {(split, i): (_split, (coll.name, i), k) for i, k in enumerate(pieces)}, [coll])
            j = 0
            for i, k in enumerate(pieces):
                for piece in range(k):
                    tasks[(name, j)] = (operator.getitem, (split, i), piece)
                    j += 1
            self._layer(name, tasks, [split])
        return _Coll(name, n)

    # -- transforms ------------------------------------------------------------------------
    def visit_transform(self, node) -> None:
        transform, label = node.transform, node.full_label
        inputs = []
        for pc in node.inputs:
            if isinstance(pc, pvalue.PCollection):
                inputs.append(self.colls[pc])
                self.consumed.add(pc.producer)
        for si in node.side_inputs:
            self.consumed.add(si.pvalue.producer)
        tagged = False
        if isinstance(transform, _Create):
            raw = self._create(list(transform.values), label)
        elif isinstance(transform, core.Impulse):
            raw = self._create([b""], label)
        elif isinstance(transform, core.ParDo):
            tagged = len(node.outputs) > 1
            raw = self._pardo(node, inputs[0], tagged)
        elif isinstance(transform, _GroupByKeyOnly):
            raw = self._group_by_key(inputs[0], label)
        elif isinstance(transform, _Flatten):
            raw = self._flatten(inputs, label)
        elif isinstance(transform, _Reshuffle):
            raw = self._repartition(inputs[0], self.n, label)
        else:
            raise UnsupportedOnDask(f"the Dask runner cannot run {type(transform).__name__} ({label})")
        self.raw[node] = raw
        for tag, pc in node.outputs.items():
            if tagged:
                name = self._name(f"{label}.{tag}", "select")
                self._layer(name, {(name, i): (_select, (raw.name, i), tag) for i in range(raw.n)}, [raw])
                self.colls[pc] = _Coll(name, raw.n)
            else:
                self.colls[pc] = raw

    def _create(self, values: list, label: str) -> _Coll:
        windowed = [GlobalWindows.windowed_value(v) for v in values]
        if self.create_partition_size:
            n = max(1, -(-len(windowed) // self.create_partition_size))
        else:
            n = max(1, min(self.n, len(windowed)))
        name = self._name(label, "create")
        self._layer(name, {(name, i): (_values, _Blob(part)) for i, part in enumerate(_split(windowed, n))}, [])
        return _Coll(name, n)

    def _flatten(self, inputs: list, label: str) -> _Coll:
        if not inputs:
            return self._create([], label)
        keys = [k for coll in inputs for k in coll.keys()]
        if len(keys) > self.n:  # coalesce: flattened collections would otherwise add up their partitions
            name = self._name(label, "flatten")
            bounds = [round(j * len(keys) / self.n) for j in range(self.n + 1)]
            self._layer(name, {(name, j): (_concat, keys[bounds[j]:bounds[j + 1]]) for j in range(self.n)}, inputs)
            return _Coll(name, self.n)
        name = self._name(label, "flatten")
        self._layer(name, {(name, i): (_concat, [key]) for i, key in enumerate(keys)}, inputs)
        return _Coll(name, len(keys))

    def _group_by_key(self, coll: _Coll, label: str) -> _Coll:
        """Hash shuffle into ``n`` partitions: cut each input by key hash, then gather bucket j of all."""
        n = self.n
        split = self._name(label, "shuffle-split")
        self._layer(split, {(split, i): (_hash_split, (coll.name, i), n) for i in range(coll.n)}, [coll])
        bucket = self._name(label, "shuffle-bucket")
        self._layer(bucket, {(bucket, i, j): (operator.getitem, (split, i), j)
                             for i in range(coll.n) for j in range(n)}, [split])
        name = self._name(label, "group")
        self._layer(name, {(name, j): (_group, [(bucket, i, j) for i in range(coll.n)]) for j in range(n)},
                    [bucket])
        return _Coll(name, n)

    def _side_key(self, pcoll) -> str:
        """One graph node per side-input collection: its partitions concatenated, shared by all consumers."""
        if pcoll not in self.side_keys:
            coll = self.colls[pcoll]
            name = self._name(coll.name, "side")
            self._layer(name, {name: (_concat, coll.keys())}, [coll])
            self.side_keys[pcoll] = name
        return self.side_keys[pcoll]

    def _pardo(self, node, coll: _Coll, tagged: bool) -> _Coll:
        transform = node.transform
        side_views = [(type(si), si._view_options()) for si in transform.side_inputs]  # noqa: SLF001
        blob = pickler.dumps((transform.fn, transform.args, transform.kwargs, node.inputs[0].windowing,
                              side_views, node.full_label, tagged))
        token = tokenize(node.full_label, blob)
        fn_key = self._name(node.full_label, "dofn")
        self._layer(fn_key, {fn_key: _Blob(blob)}, [])
        sides = [self._side_key(si.pvalue) for si in transform.side_inputs]
        name = self._name(node.full_label, "pardo")
        self._layer(name, {(name, i): (_run_bundle, (coll.name, i), token, fn_key, *sides) for i in range(coll.n)},
                    [coll, fn_key, *sides])
        return _Coll(name, coll.n)

    # -- what to compute -------------------------------------------------------------------
    def finish(self) -> tuple[HighLevelGraph, list[str]]:
        """The graph, and one count per transform whose output nobody reads (computing them runs all)."""
        sinks = []
        for node, coll in self.raw.items():
            if node not in self.consumed:
                name = self._name(node.full_label, "sink")
                self._layer(name, {name: (_count, coll.keys())}, [coll])
                sinks.append(name)
        return HighLevelGraph(self.layers, self.deps), sinks


# ----------------------------------------------------------------------------- runner

class DaskPipelineResult(PipelineResult):
    """Futures of the sinks; ``wait_until_finish`` raises a worker's error on the client."""

    def __init__(self, client, futures, owns_client: bool = True):
        super().__init__(PipelineState.RUNNING)
        self.client, self.futures, self.owns_client = client, futures, owns_client

    def wait_until_finish(self, duration=None):
        import dask.distributed as ddist

        if PipelineState.is_terminal(self._state):
            return self._state
        try:
            ddist.wait(self.futures, timeout=None if duration is None else duration / 1000)
        except TimeoutError:
            return self._state
        except BaseException:  # Ctrl-C: stop the job on the cluster too
            self.cancel()
            raise
        try:
            for future in self.futures:
                future.result()
        except BaseException:
            self._state = PipelineState.FAILED
            self._close()
            raise
        self._state = PipelineState.DONE
        self._close()
        return self._state

    def cancel(self):
        self.client.cancel(self.futures)
        self._state = PipelineState.CANCELLED
        self._close()
        return self._state

    def _close(self) -> None:
        if self.owns_client:
            self.client.close()

    def metrics(self):
        raise UnsupportedOnDask("the Dask runner does not collect Beam metrics")


def default_partitions(client) -> int:
    """Two partitions per worker thread of the cluster (at least two)."""
    threads = sum(client.nthreads().values()) or 1
    return max(2, 2 * threads)


class DaskRunner(beam_dask.DaskRunner):
    """Runs a Beam batch pipeline on a dask.distributed cluster (see the module docstring)."""

    def run_pipeline(self, pipeline, options):
        import dask.distributed as ddist

        dask_options = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = DaskOptions._extract_bag_kwargs(dask_options)  # noqa: SLF001 - Beam's own parsing
        client = ddist.Client(**dask_options)
        try:
            npartitions = bag_kwargs.get("npartitions") or max(
                default_partitions(client), options.view_as(DaskRunnerOptions).dask_min_partitions or 0)
            pipeline.replace_all(dask_overrides())
            translator = _Translator(npartitions, bag_kwargs.get("partition_size"))
            pipeline.visit(translator)
            graph, sinks = translator.finish()
            _LOG.info("Dask runner: %d tasks, %d sinks, %d partitions per shuffle", len(graph), len(sinks),
                      npartitions)
            futures = client.get(graph, sinks, sync=False)
        except BaseException:
            client.close()
            raise
        return DaskPipelineResult(client, futures)
