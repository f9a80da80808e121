"""The DICOM path of the de-identify stage: linking, duplicates, inconsistent UIDs, render options."""
from __future__ import annotations

from pathlib import Path

from pipelines.sample.export import SAMPLE_DIR
from transforms.deid.stage import DeidentifyRecord
from transforms.io.read import ReadFile

SECRET = b"test-secret-0123456789"
CONFIG = {"fhir": {"version": "R4", "mode": "lenient"}, "text": {"csv_text_column": "text"}, "limits": {"max_file_mb": 10}}


def _units(paths):
    reader = ReadFile(CONFIG)
    out = []
    for p in paths:
        out += [u for u in reader._dicom(Path(p).read_bytes(), {"source": f"dicom:{p.name}", "kind": "dicom"})
                if not u.get("reject")]
    return out


def _run(units, render="series"):
    fn = DeidentifyRecord(SECRET, {"dicom": {}, "text": {}}, {"render": render, "max_side": 64})
    fn.setup()
    outs = list(fn.process({"patient_id": "p1", "resources": [], "texts": [], "dicom": units}))
    record = next(o for o in outs if isinstance(o, dict))
    tagged = [o for o in outs if not isinstance(o, dict)]
    rejected = [o.value for o in tagged if getattr(o, "tag", None) == "rejected"]
    return record, rejected


def test_duplicate_and_inconsistent_instances_are_rejected_alone():
    files = sorted((SAMPLE_DIR / "dicom").rglob("IM*"))
    units = _units(files[:1])
    dup = dict(units[0])
    clash = dict(units[0], sop_uid="1.2.3.999", study_uid="1.2.3.998")  # same series, other study
    record, rejected = _run(units + [dup, clash])
    assert sorted(r["error_kind"] for r in rejected) == ["duplicate_sop_instance", "inconsistent_uids"]
    assert len(record["images"]) == 1 and record["images"][0]["image"]["bytes"][:4] == b"\x89PNG"


def test_render_per_instance_and_long_side_cap():
    files = sorted((SAMPLE_DIR / "dicom").rglob("IM*"))[:2]
    record, _ = _run(_units(files), render="instance")
    assert len(record["images"]) == 2
    from PIL import Image
    import io

    for img in record["images"]:
        assert max(Image.open(io.BytesIO(img["image"]["bytes"])).size) <= 64
