"""The blur check judges the page, not the scanner's resolution: a sharp scan passes and a blurred one fails
at every resolution a scanner produces (200-600 dpi, A4 and A3). Before issue 18 the score fell with the
resolution — a sharp 600-dpi page scored 21 against a threshold of 200 — so every fine scan was rejected."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from samples.documents import scanned_page_jpeg
from samples.large_files import A3_MM
from services.validation.domain import measure
from services.validation.formats.facts import Limits
from services.validation.rules import Thresholds

pytestmark = pytest.mark.unit

THRESHOLD = Thresholds().min_sharpness


def _blurred(jpeg: bytes, radius: float, dpi: int) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as im:
        out = io.BytesIO()
        im.filter(ImageFilter.GaussianBlur(radius)).save(out, "JPEG", quality=70, dpi=(dpi, dpi))
        return out.getvalue()


def _sharpness(data: bytes) -> float:
    facts = measure(data, Limits()).facts
    assert facts.image is not None and facts.image.sharpness is not None, facts
    return facts.image.sharpness


@pytest.mark.parametrize(("dpi", "paper"), [(200, None), (300, None), (400, None), (600, None), (600, A3_MM)], ids=str)
def test_a_sharp_scan_passes_and_the_same_scan_blurred_fails_whatever_its_resolution(dpi, paper):  # type: ignore[no-untyped-def]
    sharp = scanned_page_jpeg(3, dpi=dpi, **({"paper_mm": paper} if paper else {}))
    # The defect corpus's blurred scan is a Gaussian of radius 3 px at 200 dpi: the same blur on paper.
    blurred = _blurred(sharp, 3 * dpi / 200, dpi)
    assert _sharpness(sharp) >= THRESHOLD, f"a sharp {dpi}-dpi scan judged blurred"
    assert _sharpness(blurred) < THRESHOLD, f"a blurred {dpi}-dpi scan judged sharp"
