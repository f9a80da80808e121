"""Burned-in text: the cost of reading every released image with OCR, and what it removes.

Images: every DICOM with pixels that pydicom can display among pydicom's test files and the
pydicom-data and deid-data packages (the middle frame of a multi-frame object), plus the two
deid-data ultrasound stills whose pixels show a test patient's name, record number, dates and
hospital. For each image we time ``screen_pixels`` (OCR, the decision, the redaction and the
verifying second read when something was redacted) per mode and language setting, and count the
images that got boxes. On the two stills, an independent plain tesseract read before and after
counts the identifying strings still legible.

    python benchmarks/bench_pixel_text.py [--limit N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")

US_PHI = {"RGB_IMAGE.dcm": ["ZZZDOWNTIME", "MARY", "00047431395", "120907058", "4/14/2020", "8:48:26", "CLEVELAND"],
          "GREYSCALE_IMAGE.dcm": ["PATIENTF", "00079241539", "08/29/1951", "03/02/2017", "05:24:57", "CLEVELAN"]}


def images(limit: int):
    import pydicom

    from transforms.io.dicom_render import pixels_for_display

    from bench_dicom_deid import dicom_test_files

    out = []
    for p in dicom_test_files():
        try:
            ds = pydicom.dcmread(p)
            arr = pixels_for_display(ds)
        except Exception:  # noqa: BLE001 - not an image we can display
            continue
        out.append((p.name, ds, arr))
    return out[:limit] if limit else out


def _cpu() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _read(arr) -> str:
    import pytesseract
    from PIL import Image

    img = Image.fromarray(arr).convert("L")
    return pytesseract.image_to_string(img.resize((img.width * 2, img.height * 2)), lang="eng", config="--psm 11")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    import numpy as np
    import pytesseract

    from transforms.deid.pixel_text import PixelTextPolicy, header_tokens, ocr_available, screen_pixels

    if ocr_available(["eng", "chi_sim"]):
        print("tesseract with eng and chi_sim is needed: apt-get install tesseract-ocr tesseract-ocr-eng "
              "tesseract-ocr-chi-sim")
        return 1
    data = images(args.limit)
    pixels = [arr.shape[0] * arr.shape[1] for _, _, arr in data]
    print(f"tesseract {pytesseract.get_tesseract_version()}; {len(data)} images, "
          f"median {statistics.median(pixels) / 1e6:.2f} Mpx, largest {max(pixels) / 1e6:.2f} Mpx")
    settings = [("redact_all_text", ["eng", "chi_sim"]), ("redact_all_text", ["eng"]),
                ("redact_sensitive_text", ["eng", "chi_sim"]), ("quarantine", ["eng", "chi_sim"])]
    print("CPU ms = this process + the tesseract processes it ran (wall time on a shared machine varies)")
    print(f"{'mode':24s} {'languages':12s} {'CPU ms/image mean':>18s} {'median':>8s} {'max':>8s} "
          f"{'CPU ms/Mpx':>11s} {'wall ms/image':>14s} {'redacted':>9s} {'quarantined':>12s}")
    for mode, langs in settings:
        policy = PixelTextPolicy(mode=mode, languages=langs)
        times, walls, redacted, quarantined = [], [], 0, 0
        for _, ds, arr in data:
            t, c = time.perf_counter(), _cpu()
            result = screen_pixels(arr, policy, header_tokens(ds))
            times.append((_cpu() - c) * 1000)
            walls.append((time.perf_counter() - t) * 1000)
            redacted += result.action == "redacted"
            quarantined += result.action == "quarantine"
        per_mpx = sum(times) / (sum(pixels) / 1e6)
        print(f"{mode:24s} {'+'.join(langs):12s} {statistics.mean(times):18.0f} {statistics.median(times):8.0f} "
              f"{max(times):8.0f} {per_mpx:11.0f} {statistics.mean(walls):14.0f} {redacted:9d} {quarantined:12d}")
    print("\nburned-in identifiers legible to a plain tesseract read (deid-data ultrasound stills):")
    for name, ds, arr in data:
        if name not in US_PHI:
            continue
        before = _read(arr)
        for mode in ("redact_all_text", "redact_sensitive_text"):
            result = screen_pixels(arr, PixelTextPolicy(mode=mode), header_tokens(ds))
            after = _read(result.array) if result.array is not None else ""
            print(f"  {name:22s} {mode:22s} before {sum(v in before for v in US_PHI[name])}/{len(US_PHI[name])}"
                  f"  after {sum(v in after for v in US_PHI[name])}/{len(US_PHI[name])}  ({result.action}, "
                  f"{result.boxes} lines blacked out, "
                  f"{int((result.array != arr).any(axis=-1).sum() if result.array is not None and arr.ndim == 3 else np.count_nonzero(result.array != arr) if result.array is not None else 0)} px changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
