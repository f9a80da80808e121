"""Peak memory of a DICOM zip bomb: a small zip whose members are real DICOM headers with huge,
all-zero pixel data (deflate shrinks zeros about 1000 times).

    python benchmarks/bench_zip_bomb.py [--members 20] [--member-mb 32]

Each case runs in a fresh child process and prints its peak resident memory (``ru_maxrss``):

* ``reader, default limits``: ``iter_dicom_units`` (what the read stage runs per file) with
  ``limits.max_compression_ratio: 200`` — stops once the archive expands 200 times its size;
* ``reader, ratio off, cap 256 MB``: the ratio check off, ``max_decompressed_mb: 256`` stops it;
* ``unbounded (old reader)``: ``zipfile.ZipFile.read`` of every member, what medcorpus did
  before the limits (skipped with ``--skip-unbounded``; needs members x member-mb of memory);
* ``medcorpus build``: the whole CLI build on the bomb (``--direct_running_mode in_memory``,
  one process; includes Beam and the de-identification engines).

The bomb is written to a temporary directory; nothing is kept.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_bomb(path: Path, members: int, member_mb: int) -> int:
    """A zip of ``members`` DICOM files, each with ``member_mb`` MB of zero pixels; returns its size."""
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    side = int((member_mb * 1024 * 1024 / 2) ** 0.5)
    ds.Rows = ds.Columns = side
    for tag in [t for t in ds.keys() if t >= 0x7FE00010]:
        del ds[tag]  # header only: the pixel element is appended by hand and its bytes streamed below
    head = io.BytesIO()
    ds.save_as(head, enforce_file_format=True)  # explicit VR little endian
    pixels = side * side * 2
    header = head.getvalue() + b"\xe0\x7f\x10\x00OW\x00\x00" + pixels.to_bytes(4, "little")
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(members):
            with zf.open(f"study/IM{i:04d}", "w", force_zip64=True) as fh:
                fh.write(header)
                left = pixels
                while left:
                    n = min(left, len(chunk))
                    fh.write(chunk[:n])
                    left -= n
    return path.stat().st_size


CHILD = r"""
import json, resource, sys, time, zipfile
sys.path.insert(0, {repo!r})
mode, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
t = time.perf_counter()
if mode == "unbounded":
    with zipfile.ZipFile(path) as zf:
        members = [zf.read(i) for i in zf.infolist()]
    outcome = f"read {{len(members)}} members, {{sum(map(len, members)) / 2**20:.0f}} MB"
else:
    from transforms.io.dicom_read import iter_dicom_units
    from transforms.io.limits import Limits
    limits = Limits() if mode == "default" else Limits(max_compression_ratio=1e12, max_decompressed_mb=256)
    items = list(iter_dicom_units(data, "dicom:bomb.zip", limits))
    outcome = ", ".join(sorted({{i.get("error_kind", "unit") for i in items}}))
print(json.dumps({{"outcome": outcome, "seconds": round(time.perf_counter() - t, 2),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def child(mode: str, bomb: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD.format(repo=str(REPO)), mode, str(bomb)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def build(bomb: Path, tmp: Path) -> dict:
    """The whole CLI in a child process: peak RSS of that process and any it started."""
    out = tmp / "corpus"
    code = (f"import resource, sys, json, time; sys.path.insert(0, {str(REPO)!r}); "
            "from pipelines.cli import main; t = time.perf_counter(); "
            f"rc = main(['build', '--source', 'dicom:{bomb}', '--output', '{out}', "
            "'--direct_running_mode', 'in_memory']); "
            "print(json.dumps({'rc': rc, 'seconds': round(time.perf_counter() - t, 1), "
            "'peak_mb': max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}))")
    env = dict(os.environ, MEDCORPUS_SECRET="bench-zip-bomb-secret-0123456789")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    result = json.loads(res.stdout.strip().splitlines()[-1])
    manifest = json.loads((out / "manifest.json").read_text())
    result["outcome"] = ", ".join(f"{k}={v}" for k, v in manifest["reconciliation"]["units"]["rejected"].items())
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--member-mb", type=int, default=32)
    ap.add_argument("--skip-unbounded", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.zip"
        t = time.perf_counter()
        size = make_bomb(bomb, args.members, args.member_mb)
        expands = args.members * args.member_mb
        print(f"bomb: {size / 1024:.0f} KB zip, {args.members} DICOM members, expands to {expands} MB "
              f"({expands * 2**20 / size:.0f}x); written in {time.perf_counter() - t:.1f} s")
        cases = [("reader, default limits", lambda: child("default", bomb)),
                 ("reader, ratio off, cap 256 MB", lambda: child("cap", bomb))]
        if not args.skip_unbounded:
            cases.append(("unbounded (old reader)", lambda: child("unbounded", bomb)))
        cases.append(("medcorpus build (in_memory)", lambda: build(bomb, Path(tmp))))
        print(f"{'case':32s} {'peak MB':>8s} {'s':>6s}  outcome")
        for label, run in cases:
            r = run()
            print(f"{label:32s} {r['peak_mb']:8.0f} {r['seconds']:6.1f}  {r['outcome']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
