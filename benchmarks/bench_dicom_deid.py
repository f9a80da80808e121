"""DICOM de-identification: medcorpus vs dicognito on the same real files, in one run.

Files: pydicom's test files, the pydicom-data and deid-data packages (those pydicom can read).
Both systems parse the same bytes and de-identify; we report instances/second and how many
PS3.15 Table E.1-1 actions each got right, judged per attribute against the table with the options
medcorpus enables by default (Retain Longitudinal Temporal Information with Modified Dates, Clean
Descriptors), by ``transforms.deid.dicom_audit.audit_actions`` (its docstring gives the rules).

    python benchmarks/bench_dicom_deid.py
"""
from __future__ import annotations

import io
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")


def files() -> list[bytes]:
    from transforms.io.dicom_read import DicomReadError, read_dataset

    out = []
    for p in dicom_test_files():
        data = p.read_bytes()
        try:
            read_dataset(data, headers_only=False)
        except DicomReadError:
            continue
        out.append(data)
    return out


def dicom_test_files() -> list[Path]:
    """Every file of pydicom's test files, pydicom-data and deid-data that may be DICOM (the real
    instances both DICOM benchmarks read)."""
    import pydicom

    roots = [Path(pydicom.__file__).resolve().parent / "data" / "test_files"]
    for pkg in ("data_store", "deid_data"):
        try:
            roots.append(Path(__import__(pkg).__file__).resolve().parent)
        except ImportError:
            pass
    return [p for root in roots for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix not in (".py", ".pyc", ".md", ".json", ".txt", ".zip")]


def main() -> int:
    import pydicom
    from dicognito.anonymizer import Anonymizer

    from transforms.deid.dicom_audit import audit_actions
    from transforms.deid.dicom_profile import DicomPolicy, deidentify_dataset
    from transforms.deid.keys import keyed_uid

    data = files()
    policy = DicomPolicy()
    secret = b"benchmark-secret-0123456789"

    def ours(blob):
        ds = pydicom.dcmread(io.BytesIO(blob), force=True)
        deidentify_dataset(ds, patient_pseudonym="pk-bench", date_shift_days=-30,
                           uid_map=lambda u: keyed_uid(secret, u), text_deid=lambda s: "", policy=policy)
        return ds

    anonymizer = Anonymizer(seed="benchmark")

    def theirs(blob):
        ds = pydicom.dcmread(io.BytesIO(blob), force=True)
        anonymizer.anonymize(ds)
        return ds

    results = {}
    for name, fn in (("medcorpus", ours), ("dicognito", theirs)):
        fn(data[0])
        t = time.perf_counter()
        outs = []
        errors = 0
        for blob in data:
            try:
                outs.append((blob, fn(blob)))
            except Exception:  # noqa: BLE001 - a tool that fails on a file just scores nothing for it
                errors += 1
        secs = time.perf_counter() - t
        right = total = 0
        for blob, after in outs:
            r, n, _ = audit_actions(pydicom.dcmread(io.BytesIO(blob), force=True), after, policy)
            right += r
            total += n
        results[name] = (len(data) / secs, right, total, errors)
    print(f"{len(data)} DICOM instances (pydicom test files, pydicom-data, deid-data)")
    print(f"{'system':<12}{'inst/s':>9}{'table actions right':>22}{'errors':>8}")
    for name, (rate, right, total, errors) in results.items():
        print(f"{name:<12}{rate:>9.0f}{f'{right}/{total} ({right / max(1, total):.1%})':>22}{errors:>8}")
    print(f"speed ratio medcorpus/dicognito: {results['medcorpus'][0] / results['dicognito'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
