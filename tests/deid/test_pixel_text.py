"""Burned-in text in pixels: OCR (Debian's tesseract) redacts or quarantines it whatever the header says.

Real data: the deid-data package's ultrasound stills, whose pixels show a test patient's name,
record number, birth date, study date and hospital. They are relabelled ``CR`` with
``BurnedInAnnotation NO`` so that no header rule catches them: only OCR can.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest

from transforms.deid.burned_in import burned_in_risk
from transforms.deid.dicom_profile import DicomPolicy
from transforms.deid.pixel_text import DATE, PixelTextPolicy, header_tokens, screen_dataset, screen_pixels
from transforms.io.dicom_render import pixels_for_display

SECRET = b"pixel-text-test-secret-5c1e9a7f3b"
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def _require_ocr():
    import shutil

    if shutil.which("tesseract") is None:
        if os.environ.get("MEDCORPUS_REQUIRE_OCR"):
            pytest.fail("tesseract is required (MEDCORPUS_REQUIRE_OCR is set) but not installed")
        pytest.skip("Debian's tesseract-ocr is not installed (.ci/run installs it)")


def _ultrasound(name: str):
    import deid_data

    path = Path(deid_data.__file__).resolve().parent / "data" / "ultrasounds" / name
    ds = pydicom.dcmread(path)
    ds.Modality = "CR"  # the header no longer looks risky ...
    ds.BurnedInAnnotation = "NO"
    assert burned_in_risk(ds, DicomPolicy()) is None  # ... so no header rule catches it
    return ds


def _read(arr: np.ndarray, languages="eng") -> str:
    """Independent OCR of what would be released (plain pytesseract, enlarged for small glyphs)."""
    import pytesseract
    from PIL import Image

    img = Image.fromarray(arr).convert("L")
    img = img.resize((img.width * 2, img.height * 2))
    return pytesseract.image_to_string(img, lang=languages, config="--psm 11")


#: what the two stills show in their pixels (test patients of the deid-data package)
US_PHI = {"RGB_IMAGE.dcm": ["ZZZDOWNTIME", "MARY", "00047431395", "120907058", "4/14/2020", "CLEVELAND"],
          "GREYSCALE_IMAGE.dcm": ["PATIENTF", "00079241539", "08/29/1951", "03/02/2017", "CLEVELAN"]}


@pytest.mark.parametrize("name", sorted(US_PHI))
def test_ultrasound_relabelled_cr_has_its_burned_in_phi_redacted(name):
    _require_ocr()
    ds = _ultrasound(name)
    arr = pixels_for_display(ds)
    before = _read(arr)
    assert sum(v in before for v in US_PHI[name]) >= 3, "the control must see the PHI, or the test proves nothing"
    result = screen_pixels(arr, PixelTextPolicy(), header_tokens(ds))
    assert result.action == "redacted" and result.boxes >= 3
    after = _read(result.array)
    assert [v for v in US_PHI[name] if v in after] == []
    assert not DATE.search(after)  # no pixel date left beside the shifted header date


def test_sensitive_mode_keeps_technical_annotations_and_removes_identifiers():
    _require_ocr()
    ds = _ultrasound("RGB_IMAGE.dcm")
    arr = pixels_for_display(ds)
    result = screen_pixels(arr, PixelTextPolicy(mode="redact_sensitive_text"), header_tokens(ds))
    after = _read(result.array)
    assert result.action == "redacted"
    assert [v for v in US_PHI["RGB_IMAGE.dcm"] if v in after] == []
    assert "SIEMENS" in after and "Liver" in after  # the scanner's annotations stay


def test_quarantine_mode_holds_back_images_with_text_and_releases_plain_ones():
    _require_ocr()
    ds = _ultrasound("GREYSCALE_IMAGE.dcm")
    policy = PixelTextPolicy(mode="quarantine")
    assert screen_pixels(pixels_for_display(ds), policy, header_tokens(ds)).action == "quarantine"
    ct = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    assert screen_pixels(pixels_for_display(ct), policy).action == "keep"


def test_without_ocr_every_image_is_quarantined_and_the_reason_says_so():
    ct = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    result = screen_pixels(pixels_for_display(ct), PixelTextPolicy(languages=["no_such_language_pack"]))
    assert result.action == "quarantine" and result.reason.startswith("ocr_unavailable")


def test_policy_keys_are_checked():
    with pytest.raises(ValueError, match="mode must be one of"):
        PixelTextPolicy.from_dict({"mode": "redact_everything"})
    with pytest.raises(ValueError, match="unknown dicom.pixel_text key 'modes'"):
        PixelTextPolicy.from_dict({"modes": "quarantine"})


def _cjk_image() -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    if not CJK_FONT.is_file():
        if os.environ.get("MEDCORPUS_REQUIRE_OCR"):
            pytest.fail("fonts-wqy-microhei is required (MEDCORPUS_REQUIRE_OCR is set) but not installed")
        pytest.skip("fonts-wqy-microhei is not installed (.ci/run installs it)")
    img = Image.new("L", (800, 600), 0)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(CJK_FONT), 22)
    draw.text((12, 10), "姓名：张伟  住院号：ZY20230501", fill=255, font=font)
    draw.text((480, 10), "2023年05月01日 14:32", fill=255, font=font)
    draw.text((12, 560), "北京协和医院", fill=255, font=font)
    draw.ellipse((220, 150, 580, 480), fill=110)  # something for the image to be about
    return np.array(img)


def test_chinese_burned_in_name_record_number_date_and_hospital_are_redacted():
    _require_ocr()
    arr = _cjk_image()
    before = _read(arr, "chi_sim")
    assert "张" in before and "医院" in before, "the control must read the Chinese text"
    result = screen_pixels(arr, PixelTextPolicy(mode="redact_sensitive_text"))
    assert result.action == "redacted"
    after = _read(result.array, "chi_sim+eng")
    for value in ("张伟", "姓名", "住院", "ZY2023", "2023", "协和", "医院"):
        assert value not in after, value
    assert int(result.array[250:400, 300:500].mean()) > 50  # the anatomy is still there


def test_every_frame_of_a_cine_loop_is_redacted_for_deid_copies():
    """`medcorpus deid` writes whole objects: the redaction reaches every frame of the stored pixels."""
    _require_ocr()
    ds = _ultrasound("GREYSCALE_IMAGE.dcm")
    frame = ds.pixel_array
    cine = np.stack([frame, frame, frame])
    ds.set_pixel_data(cine, "MONOCHROME2", 8, generate_instance_uid=False)
    result = screen_dataset(ds, PixelTextPolicy(), header_tokens(ds))
    assert result.action == "redacted"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    written = pydicom.dcmread(io.BytesIO(buf.getvalue()))
    assert int(written.NumberOfFrames) == 3
    for i in range(3):
        text = _read(pixels_for_display(written, i))
        assert [v for v in US_PHI["GREYSCALE_IMAGE.dcm"] if v in text] == [], i
        assert not re.search(r"\d{5,}", text.replace(" ", "")), i
