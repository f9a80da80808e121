"""The bundled sample: where it lives in the package and how to write it to disk."""
from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.errors import UserError

SAMPLE_DIR = Path(__file__).resolve().parent / "data"
KINDS = ("fhir", "text", "dicom")


def sample_source_specs() -> list[str]:
    """``KIND:PATH`` specs for every modality present in the bundled sample."""
    return [f"{kind}:{SAMPLE_DIR / kind}" for kind in KINDS if (SAMPLE_DIR / kind).is_dir()]


def export_sample(output: str) -> int:
    out = Path(output)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"output directory is not empty: {output}")
    out.mkdir(parents=True, exist_ok=True)
    files = 0
    for kind in KINDS:
        src = SAMPLE_DIR / kind
        if src.is_dir():
            shutil.copytree(src, out / kind, dirs_exist_ok=True)
            files += sum(1 for p in (out / kind).rglob("*") if p.is_file())
    notice = SAMPLE_DIR / "NOTICE.md"
    if notice.is_file():
        shutil.copy2(notice, out / "NOTICE.md")
    print(f"wrote the bundled sample ({files} files) to {out}")
    print(f"build it with: medcorpus build --source fhir:{out}/fhir --source text:{out}/text "
          f"--source dicom:{out}/dicom --output corpus-out   (uses the demo secret only for the bundled path;"
          f" set MEDCORPUS_SECRET for copies)")
    return 0
