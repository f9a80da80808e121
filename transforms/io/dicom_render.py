"""Render a DICOM image to PNG the way a viewer would show it."""
from __future__ import annotations

import io

import numpy as np


class PixelDecodeError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def pixels_for_display(ds, frame: int | None = None) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) array: modality LUT, VOI LUT/window, MONOCHROME1 inversion, colour.

    A multi-frame object shows its middle frame, or ``frame``."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, convert_color_space

    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDecodeError("no_pixel_data", "the object has no pixel data")
    try:
        arr = ds.pixel_array
    except NotImplementedError:
        raise PixelDecodeError("unsupported_transfer_syntax", "no installed decoder handles this transfer syntax") from None
    except Exception as exc:  # noqa: BLE001 - every decoder failure is a reject, not a crash
        raise PixelDecodeError("undecodable_pixels", f"pixel data could not be decoded ({type(exc).__name__})") from None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames > 1 and arr.ndim >= 3 and (spp == 1 or arr.ndim == 4):
        arr = arr[frames // 2 if frame is None else min(max(frame, 0), frames - 1)]
    if spp == 3:
        if photometric.startswith("YBR") and "YBR_FULL" in photometric or photometric == "YBR_422":
            try:
                arr = convert_color_space(arr, photometric, "RGB")
            except Exception:  # noqa: BLE001
                pass
        arr = arr.astype(np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        out = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return out.clip(0, 255).astype(np.uint8)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            return apply_color_lut(arr, ds).astype(np.float64).__truediv__(257 if arr.dtype != np.uint8 else 1).clip(0, 255).astype(np.uint8)
        except Exception:  # noqa: BLE001
            pass
    arr = apply_modality_lut(arr, ds)
    try:
        arr = apply_voi_lut(arr, ds, index=0)
    except Exception:  # noqa: BLE001 - malformed window values: fall back to min/max
        pass
    arr = arr.astype(np.float64)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    out = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return np.nan_to_num(out).clip(0, 255).astype(np.uint8)


def render_png(ds, max_side: int = 512) -> bytes:
    return png_from_array(pixels_for_display(ds), max_side)


def png_from_array(arr: np.ndarray, max_side: int = 512) -> bytes:
    """A displayed image (``pixels_for_display``, possibly redacted) as PNG, long side at most ``max_side``."""
    from PIL import Image

    if arr.ndim not in (2, 3) or min(arr.shape[:2]) < 1:
        raise PixelDecodeError("unexpected_shape", "pixel array has an unexpected shape")
    img = Image.fromarray(arr)
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
