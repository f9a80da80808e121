"""Render a DICOM image to PNG the way a viewer would show it.

Grey-scale: Modality LUT (rescale slope/intercept or LUT), then the VOI LUT or the first window
(centre/width), mapped from the VOI output range to 8 bits, with MONOCHROME1 inverted; with neither
a VOI LUT nor a window, the pixel range is stretched. Colour: YBR is converted to RGB, palette colour
through its LUT, and samples wider than 8 bits are scaled by their bit depth (not stretched, so colours
stay true). Multi-frame objects show their middle frame (only that frame is decoded). The long side is
capped at ``max_side``. Failures raise ``PixelDecodeError(kind, message)``: ``no_pixel_data``,
``unsupported_transfer_syntax``, ``undecodable_pixels``, ``unexpected_shape``.
"""
from __future__ import annotations

import io
import warnings

import numpy as np


class PixelDecodeError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def _frames(ds) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def decode_display_frame(ds) -> tuple[np.ndarray, str]:
    """(array of the middle frame, its photometric interpretation after YBR -> RGB conversion)."""
    from pydicom.pixels import get_decoder

    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDecodeError("no_pixel_data", "the object has no pixel data")
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax is None:
        raise PixelDecodeError("unsupported_transfer_syntax", "the object has no transfer syntax")
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise PixelDecodeError("unsupported_transfer_syntax", "no decoder exists for this transfer syntax") from None
    if not decoder.is_available:
        raise PixelDecodeError("unsupported_transfer_syntax", "no installed decoder handles this transfer syntax")
    frames = _frames(ds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr, meta = decoder.as_array(ds, index=frames // 2 if frames > 1 else 0, as_rgb=True)
    except NotImplementedError:
        raise PixelDecodeError("unsupported_transfer_syntax", "no installed decoder handles this transfer syntax") from None
    except Exception as exc:  # noqa: BLE001 - every decoder failure is a reject, not a crash
        raise PixelDecodeError("undecodable_pixels", f"pixel data could not be decoded ({type(exc).__name__})") from None
    photometric = str(meta.get("photometric_interpretation") or ds.get("PhotometricInterpretation", "MONOCHROME2"))
    return arr, photometric.strip().upper()


def _to_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    arr = np.nan_to_num(arr.astype(np.float64), nan=lo, posinf=hi, neginf=lo)
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return ((arr - lo) / (hi - lo) * 255.0).round().clip(0, 255).astype(np.uint8)


def _stretch(arr: np.ndarray) -> np.ndarray:
    finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
    if finite.size == 0:
        return np.zeros(arr.shape, dtype=np.uint8)
    return _to_uint8(arr, float(finite.min()), float(finite.max()))


def _voi_range(ds) -> tuple[float, float] | None:
    """Output range of the VOI transform pydicom applies (LUT first, then window), or None."""
    voi = ds.get("VOILUTSequence")
    if voi:
        item = voi[0]
        data = item.get("LUTData")
        if data is not None:
            values = np.asarray(data if not isinstance(data, (bytes, bytearray)) else
                                np.frombuffer(data, dtype=np.uint16 if int(item.LUTDescriptor[2]) > 8 else np.uint8))
            return 0.0, float(max(1, int(values.max())))
    if "WindowCenter" in ds and "WindowWidth" in ds:
        bits = int(ds.get("BitsStored", 8) or 8)
        if ds.get("ModalityLUTSequence"):
            return 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
        if int(ds.get("PixelRepresentation", 0) or 0) == 0:
            return 0.0, float(2 ** bits - 1)
        return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    return None


def _grey(arr: np.ndarray, ds, photometric: str) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        arr = apply_modality_lut(arr, ds)
    except Exception:  # noqa: BLE001 - malformed rescale/LUT: show stored values
        pass
    out = None
    try:
        rng = _voi_range(ds)
        if rng is not None:
            out = _to_uint8(apply_voi_lut(arr, ds, index=0), *rng)
    except Exception:  # noqa: BLE001 - malformed window or LUT values: fall back to the pixel range
        out = None
    if out is None:
        out = _stretch(arr)
    return 255 - out if photometric == "MONOCHROME1" else out


def _colour(arr: np.ndarray, ds, photometric: str) -> np.ndarray:
    from pydicom.pixels import convert_color_space

    if photometric.startswith("YBR") and photometric not in ("YBR_ICT", "YBR_RCT"):
        try:
            arr = convert_color_space(arr, photometric if photometric != "YBR_PARTIAL_422" else "YBR_PARTIAL_420",
                                      "RGB")
        except Exception:  # noqa: BLE001 - unknown colour space: show the samples as they are
            pass
    if arr.dtype == np.uint8:
        return arr
    bits = int(ds.get("BitsStored", 8) or 8)
    return _to_uint8(arr, 0.0, float(2 ** bits - 1))


def pixels_for_display(ds) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) array of the frame a viewer would show."""
    arr, photometric = decode_display_frame(ds)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if arr.ndim == 3 and spp == 1 and arr.shape[-1] != 3:  # decoder ignored the index: take the middle frame
        arr = arr[arr.shape[0] // 2]
    if arr.ndim == 4:
        arr = arr[arr.shape[0] // 2]
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            rgb = apply_color_lut(arr, ds)
            depth = int(ds.RedPaletteColorLookupTableDescriptor[2])
            return _to_uint8(rgb, 0.0, float(2 ** (16 if depth > 8 else 8) - 1))
        except Exception:  # noqa: BLE001 - broken palette: show the indices as grey
            return _stretch(arr)
    if arr.ndim == 3 and arr.shape[-1] == 3:
        return _colour(arr, ds, photometric)
    if arr.ndim != 2:
        raise PixelDecodeError("unexpected_shape", "pixel array has an unexpected shape")
    return _grey(arr, ds, photometric)


def render_png(ds, max_side: int = 512) -> bytes:
    """8-bit PNG bytes of the displayed frame, long side at most ``max_side``."""
    from PIL import Image

    arr = pixels_for_display(ds)
    if arr.ndim not in (2, 3) or min(arr.shape[:2]) < 1:
        raise PixelDecodeError("unexpected_shape", "pixel array has an unexpected shape")
    img = Image.fromarray(np.ascontiguousarray(arr))
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
