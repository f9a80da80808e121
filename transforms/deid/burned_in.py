"""Burned-in annotation: quarantine images that may carry PHI in their pixels.

By default every image whose BurnedInAnnotation is ``YES`` is quarantined, and so is every image
of an at-risk kind (ultrasound, secondary capture, screen captures, modalities listed in the
policy) that lacks an explicit ``NO``. A pixel-cleaning rule (rectangles to blank for a
manufacturer / model / modality / size, as CTP's pixel anonymizer does) releases a match.
"""
from __future__ import annotations

SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"  # SC image storage SOP classes


def _s(ds, name) -> str:
    value = ds.get(name)
    return str(value).strip().upper() if value is not None else ""


def rule_matches(ds, rule: dict) -> bool:
    for key, attr in (("modality", "Modality"), ("manufacturer", "Manufacturer"),
                      ("model", "ManufacturerModelName")):
        if rule.get(key) and str(rule[key]).strip().upper() != _s(ds, attr):
            return False
    for key, attr in (("rows", "Rows"), ("columns", "Columns")):
        if rule.get(key) and int(rule[key]) != int(ds.get(attr, -1) or -1):
            return False
    return bool(rule.get("rectangles"))


def apply_pixel_clean(ds, rules: list[dict]) -> bool:
    """Blank the rectangles of the first matching rule in every frame; True when one applied."""
    for rule in rules or []:
        if not rule_matches(ds, rule):
            continue
        arr = ds.pixel_array.copy()
        for x0, y0, x1, y1 in rule["rectangles"]:
            if arr.ndim == 2 or (arr.ndim == 3 and int(ds.get("SamplesPerPixel", 1)) == 3):
                arr[y0:y1, x0:x1] = 0
            else:
                arr[:, y0:y1, x0:x1] = 0
        from pydicom.uid import ExplicitVRLittleEndian

        ds.PixelData = arr.tobytes()
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.BurnedInAnnotation = "NO"
        return True
    return False


def burned_in_risk(ds, policy) -> str | None:
    """A quarantine reason, or None when the image may be released."""
    flag = _s(ds, "BurnedInAnnotation")
    modality = _s(ds, "Modality")
    sop = str(ds.get("SOPClassUID", "") or "")
    reason = None
    if flag == "YES":
        reason = "burned_in_annotation_yes"
    elif flag != "NO":
        if modality in {m.upper() for m in policy.burned_in_risk_modalities}:
            reason = f"at_risk_modality_{modality.lower()}_without_burned_in_no"
        elif sop.startswith(SECONDARY_CAPTURE_PREFIX):
            reason = "secondary_capture_without_burned_in_no"
        elif _s(ds, "ImageType").find("SCREEN") >= 0 or _s(ds, "ConversionType") in ("WSD", "SYN", "DRW"):
            reason = "screen_capture_without_burned_in_no"
    if reason and policy.pixel_clean_rules:
        try:
            if apply_pixel_clean(ds, policy.pixel_clean_rules):
                return None
        except Exception:  # noqa: BLE001 - cannot clean: stay quarantined
            return reason
    return reason
