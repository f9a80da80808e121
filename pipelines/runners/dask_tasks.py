"""Worker side of the Dask runner (``dask_runner``): the functions its task graph calls, once per partition.

* ``_run_bundle``: one partition is one bundle of a ParDo. The pickled ParDo is unpickled once per
  worker process (``_spec``) with a pool of set-up DoFn instances, reused by later bundles (one
  bundle at a time per instance; ``teardown`` when an instance is evicted or fails).
* Partitions are lists of WindowedValues that pickle as plain values plus runs of shared
  timestamp/windows/pane (a WindowedValue pickles about 1,000 times slower than a small tuple).
* The GroupByKey shuffle: ``_hash_split`` (a key hash every process agrees on) and ``_group``.

Depends only on Beam (and is imported by dask workers by module path).
"""
from __future__ import annotations

import logging
import pickle
import threading
import zlib
from collections import OrderedDict

from apache_beam.internal import pickler
from apache_beam.runners.common import DoFnRunner, Receiver
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue
from apache_beam.utils.windowed_value import create as _create_wv

_LOG = logging.getLogger(__name__)


# Module-level functions: they run on the workers, once per partition.

class _Blob:
    """A value held as one graph node (data, never mistaken for a task or a key)."""

    def __init__(self, data):
        self.data = data


class _Spec:
    """A pickled ParDo, unpickled once per worker process, with a pool of set-up DoFn instances."""

    def __init__(self, blob: bytes):
        self.blob = blob
        _, self.args, self.kwargs, self.windowing, self.side_views, self.label, self.tagged = pickler.loads(blob)
        self.idle: list = []
        self.lock = threading.Lock()

    def acquire(self):
        with self.lock:
            if self.idle:
                return self.idle.pop()
        fn = pickler.loads(self.blob)[0]  # a fresh instance: bundles on other threads keep theirs
        fn.setup()
        return fn

    def release(self, fn) -> None:
        with self.lock:
            self.idle.append(fn)

    def teardown(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for fn in idle:
            _teardown(fn, self.label)


def _teardown(fn, label: str) -> None:
    try:
        fn.teardown()
    except Exception:  # noqa: BLE001 - teardown is best effort, as in Beam
        _LOG.warning("teardown of %s failed", label, exc_info=True)


_SPECS: OrderedDict[str, _Spec] = OrderedDict()
_SPECS_LOCK = threading.Lock()
_MAX_SPECS = 1024  # ParDos kept per worker process; the least recently used are torn down


def _spec(token: str, blob: _Blob) -> _Spec:
    with _SPECS_LOCK:
        spec = _SPECS.get(token)
        if spec is not None:
            _SPECS.move_to_end(token)
            return spec
    new = _Spec(blob.data)
    evicted = []
    with _SPECS_LOCK:
        spec = _SPECS.setdefault(token, new)
        while len(_SPECS) > _MAX_SPECS:
            evicted.append(_SPECS.popitem(last=False)[1])
    for old in evicted:
        old.teardown()
    return spec


class _Receiver(Receiver):
    def __init__(self, out: list, tag, tagged: bool):
        self.out, self.tag, self.tagged = out, tag, tagged

    def receive(self, windowed_value) -> None:
        self.out.append((self.tag, windowed_value) if self.tagged else windowed_value)


class _Dropped(Receiver):
    def receive(self, windowed_value) -> None:
        pass


class _Receivers(dict):
    """tag -> receiver, made on first use; every tag's output goes to one list, in order. Output to a
    tag the ParDo did not declare is dropped, as on the DirectRunner."""

    def __init__(self, out: list, tagged: bool):
        super().__init__()
        self.out, self.tagged = out, tagged

    def __missing__(self, tag):
        if tag is not None and not self.tagged:
            receiver = self[tag] = _Dropped()
        else:
            receiver = self[tag] = _Receiver(self.out, tag, self.tagged)
        return receiver


def _run_bundle(partition, token: str, blob: _Blob, *side_values):
    """One partition = one bundle: start_bundle, every element, finish_bundle; then the output."""
    spec = _spec(token, blob)
    fn = spec.acquire()
    out = _Pairs() if spec.tagged else _Partition()
    try:
        side_inputs = [SideInputMap(view, options, values) for (view, options), values in
                       zip(spec.side_views, side_values)]
        runner = DoFnRunner(fn, spec.args, spec.kwargs, side_inputs, spec.windowing,
                            tagged_receivers=_Receivers(out, spec.tagged), step_name=spec.label)
        runner.start()
        for windowed_value in partition:
            runner.process(windowed_value)
        runner.finish()
    except BaseException:
        _teardown(fn, spec.label)  # an instance that failed mid-bundle is not reused
        raise
    spec.release(fn)
    return out


# Partitions cross process boundaries pickled. A WindowedValue pickles alone (about 1,000 times slower
# than a small tuple), so partitions pickle as plain values plus runs of shared timestamp/windows/pane.

def _runs(wvs) -> list:
    """``[[count, timestamp_micros, windows, pane_info], ...]`` of consecutive WindowedValues sharing them."""
    runs: list = []
    last = None
    for wv in wvs:
        meta = (wv.timestamp_micros, wv.windows, wv.pane_info)
        if meta == last:
            runs[-1][0] += 1
        else:
            runs.append([1, *meta])
            last = meta
    return runs


def _windowed(values: list, runs: list) -> list:
    out, i = [], 0
    for n, ts, windows, pane in runs:
        out.extend(_create_wv(v, ts, windows, pane) for v in values[i:i + n])
        i += n
    return out


class _Partition(list):
    """A partition: WindowedValues."""

    def __reduce__(self):
        return _unpack_partition, ([wv.value for wv in self], _runs(self))


def _unpack_partition(values, runs):
    return _Partition(_windowed(values, runs))


class _Pairs(list):
    """``(tag or key, WindowedValue)`` pairs: a multi-output ParDo's partition, a shuffle bucket."""

    def __reduce__(self):
        return _unpack_pairs, ([t for t, _ in self], [wv.value for _, wv in self], _runs(wv for _, wv in self))


def _unpack_pairs(tags, values, runs):
    return _Pairs(zip(tags, _windowed(values, runs)))


class _Grouped(list):
    """GroupByKeyOnly's output: WindowedValue((key, [WindowedValue, ...]))."""

    def __reduce__(self):
        return _unpack_grouped, ([(wv.value[0], _Partition(wv.value[1])) for wv in self], _runs(self))


def _unpack_grouped(groups, runs):
    return _Grouped(_windowed([(key, list(values)) for key, values in groups], runs))


def _select(partition, tag):
    return _Partition(wv for t, wv in partition if t == tag)


def _concat(partitions):
    return _Partition(wv for part in partitions for wv in part)


def _values(blob: _Blob):
    return _Partition(blob.data)


def _split(partition, k: int) -> list[list]:
    """A partition cut into ``k`` runs of (nearly) equal length, in order."""
    items = list(partition)
    size, extra = divmod(len(items), k)
    out, start = [], 0
    for i in range(k):
        end = start + size + (1 if i < extra else 0)
        out.append(_Partition(items[start:end]))
        start = end
    return out


def stable_hash(key) -> int:
    """A hash of a GroupByKey key that every process agrees on (``hash()`` of str is salted per process)."""
    if isinstance(key, str):
        data = key.encode("utf-8", "surrogatepass")
    elif isinstance(key, bytes):
        data = key
    else:  # None, numbers, tuples of them and of str: pickled deterministically, as Beam's coders require
        data = pickle.dumps(key, protocol=4)
    return zlib.crc32(data)


def _hash_split(partition, n: int) -> list[list]:
    """Reified ``(key, WindowedValue)`` elements -> ``n`` buckets by key hash."""
    buckets = [_Pairs() for _ in range(n)]
    for wv in partition:
        buckets[stable_hash(wv.value[0]) % n].append(wv.value)
    return buckets


def _group(buckets):
    """Bucket j of every input partition -> GroupByKeyOnly's output ``(key, [reified values])``."""
    groups: dict = {}
    for bucket in buckets:
        for key, value in bucket:
            groups.setdefault(key, []).append(value)
    window = (GlobalWindow(),)
    return _Grouped(WindowedValue((key, values), 0, window) for key, values in groups.items())


def _count(partitions) -> int:
    return sum(len(p) for p in partitions)
