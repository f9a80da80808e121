"""The run secret never enters the pipeline graph a runner stores and ships to workers.

Dataflow keeps the serialized DoFns in the job's staging bucket and returns them through its jobs
API; the stages hold the secret as a reference (environment variable or file, plus fingerprint) that
each worker resolves when it unpickles the stage."""
from __future__ import annotations

import base64
import bz2
import json
import shutil
import zlib

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.portability.api import beam_runner_api_pb2

from pipelines.cli import main
from pipelines.sample.export import SAMPLE_DIR
from pipelines.secret import SecretError, resolve_secret
from transforms.deid.keys import fingerprint, patient_key
from transforms.deid.text import TextDeidentifier

SECRET = b"graph-test-secret-4f1c9a7e2b"


def _unpickled_payloads(proto: beam_runner_api_pb2.Pipeline):
    """The raw pickle bytes of every DoFn / CombineFn in the graph (Beam compresses and base64s them)."""
    for t in proto.components.transforms.values():
        if not t.spec.payload:
            continue
        for message in (beam_runner_api_pb2.ParDoPayload, beam_runner_api_pb2.CombinePayload):
            try:
                fn = message.FromString(t.spec.payload)
            except Exception:  # noqa: BLE001 - not this payload type
                continue
            data = (fn.do_fn if message is beam_runner_api_pb2.ParDoPayload else fn.combine_fn).payload
            try:
                packed = base64.b64decode(data, validate=True)
            except Exception:  # noqa: BLE001 - not a pickled function
                continue
            for unpack in (bz2.decompress, zlib.decompress):
                try:
                    yield unpack(packed)
                    break
                except Exception:  # noqa: BLE001 - the other compressor
                    continue


def test_a_build_ships_no_secret_in_its_graph_and_workers_read_it_from_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDCORPUS_SECRET", raising=False)
    secret_file = tmp_path / "secret.key"
    secret_file.write_bytes(SECRET + b"\n")
    src = tmp_path / "fhir"
    src.mkdir()
    for f in sorted((SAMPLE_DIR / "fhir" / "synthea").glob("*.json.gz"))[:2]:
        shutil.copy(f, src / f.name)

    graphs = []
    run = beam.Pipeline.run

    def capture(self, *a, **k):
        graphs.append(self.to_runner_api())
        return run(self, *a, **k)

    monkeypatch.setattr(beam.Pipeline, "run", capture)
    out = tmp_path / "out"
    assert main(["build", "--source", f"fhir:{src}", "--output", str(out), "--secret-file", str(secret_file),
                 "--direct_running_mode", "in_memory"]) == 0
    assert graphs
    payloads = [p for g in graphs for p in _unpickled_payloads(g)]
    assert len(payloads) > 20  # the stages were found and unpacked
    assert any(b"_read_on_worker" in p for p in payloads)  # stages carry the reference...
    for g in graphs:
        assert SECRET not in g.SerializeToString()
    assert not [p for p in payloads if SECRET in p]  # ...and never the value
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["secret_fingerprint"] == fingerprint(SECRET) and manifest["reconciliation"]["ok"]
    # the workers keyed pseudonyms with the file's secret
    bundle = json.loads(__import__("gzip").decompress(sorted(src.glob("*.json.gz"))[0].read_bytes()))
    pid = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    import pyarrow.dataset as ds

    keys = set(ds.dataset(out / "pretraining", format="parquet").to_table(columns=["patient_key"])
               .column("patient_key").to_pylist())
    assert patient_key(SECRET, pid) in keys


def test_a_worker_without_the_driver_secret_fails_clearly(monkeypatch):
    monkeypatch.setenv("MEDCORPUS_SECRET", SECRET.decode())
    stage = pickler.dumps(TextDeidentifier({}, resolve_secret(None, allow_demo=False).value))
    assert pickler.loads(stage).secret == SECRET

    monkeypatch.setenv("MEDCORPUS_SECRET", "a-different-secret-0123456789")
    with pytest.raises(SecretError, match="not the driver's") as e:
        pickler.loads(stage)
    assert "a-different" not in str(e.value) and SECRET.decode() not in str(e.value)

    monkeypatch.delenv("MEDCORPUS_SECRET")
    with pytest.raises(SecretError, match="not set on this worker"):
        pickler.loads(stage)
    assert SECRET.decode() not in repr(resolve_secret(None, allow_demo=True).value) + repr(stage)
