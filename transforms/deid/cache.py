"""Per-patient result cache for incremental and resumable builds (``medcorpus build --incremental``).

De-identification is the expensive per-patient step (spaCy NER inside Presidio). With a cache
directory, each patient's de-identification outputs (record, documents, rejects, ledger events,
lineage) are stored under a key that hashes the patient's raw input units together with
everything the result depends on: the secret's fingerprint, the de-identification policy, the
DICOM rendering settings and the medcorpus version. A later run with the same output directory
replays a hit instead of recomputing it, so only patients whose inputs changed are de-identified
again; the global stages after it (dedup, tasks, splits, writing) always run, so the rows are the
same as a full rebuild. Entries are written as each patient finishes, atomically, so a killed
run resumes where it stopped.

The cache holds de-identified outputs and restricted lineage: treat it like ``lineage/``. The key
is a one-way hash; raw content is never stored.
"""
from __future__ import annotations

import hashlib
import pickle

import orjson
from apache_beam.io.filesystems import FileSystems

CACHE_DIR = "cache"
FORMAT = "1"


def _default(obj):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(obj)).hexdigest()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(type(obj).__name__)


def settings_digest(*, secret_fingerprint: str, policy: dict, render: dict, version: str) -> str:
    """Everything besides the inputs that a patient's de-identified result depends on."""
    blob = orjson.dumps({"format": FORMAT, "secret": secret_fingerprint, "policy": policy, "render": render,
                         "version": version}, option=orjson.OPT_SORT_KEYS, default=_default)
    return hashlib.sha256(blob).hexdigest()


def record_key(record: dict, settings: str) -> str:
    """Content hash of one patient's raw record (units, their positions and bytes) under ``settings``."""
    blob = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=_default)
    return hashlib.sha256(settings.encode() + b"\x00" + blob).hexdigest()


class RecordCache:
    def __init__(self, root: str):
        self.root = root

    def _path(self, key: str) -> str:
        return FileSystems.join(self.root, key[:2], key + ".pkl")

    def get(self, key: str):
        path = self._path(key)
        try:
            if not FileSystems.exists(path):
                return None
            with FileSystems.open(path) as fh:
                return pickle.loads(fh.read())
        except Exception:  # noqa: BLE001 - a damaged entry is recomputed, never trusted
            return None

    def put(self, key: str, outputs: list) -> None:
        path = self._path(key)
        tmp = path + ".tmp"
        try:
            with FileSystems.create(tmp) as fh:
                fh.write(pickle.dumps(outputs, protocol=pickle.HIGHEST_PROTOCOL))
            FileSystems.rename([tmp], [path])
        except Exception:  # noqa: BLE001 - caching is an optimisation; the run goes on without it
            try:
                FileSystems.delete([tmp])
            except Exception:  # noqa: BLE001
                pass
