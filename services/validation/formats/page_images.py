"""Scanned pages wherever they are — an image file, or an image drawn on a PDF or OFD page — measured
the same way: resolution, sharpness (variance of the Laplacian over content tiles), colour from the
content (chroma, not the image mode) and the seal shapes on it (formats/seals.py).

Memory and CPU stay bounded: every image — an image file or one embedded in a document — is decoded at
the smallest scale the measurements allow (`decode_reduced`: a JPEG in the DCT with `Image.draft`, a JPEG
2000 by its `reduce` levels, PNG/TIFF decoded and measured on a reduced copy), keeping at least
MEASURE_MIN_DPI; the resolution itself comes from the header and needs no pixels. Images are decoded one
at a time and dropped, and at most
`Limits.pdf_max_images_decoded` images of a document are decoded, spread evenly over it; the rest are
still counted, and their resolution (which needs no decoding) is still checked.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from services.validation.formats.facts import ImageFacts
from services.validation.formats.seals import raster_seals

# A page is "in colour" when the 99th percentile of its chroma (distance from grey in YCbCr, 0-181) reaches
# this: paper tone and colour-scanner noise give 4-10 and any ink in colour far more; a grey page stored
# as RGB/YCbCr gives 0-1 (JPEG's chroma channels of grey content are flat).
COLOUR_MIN_CHROMA = 3.0
# An image covering at least this share of its page is a scanned page (smaller ones: logos, pasted seals).
SCAN_MIN_PAGE_FRACTION = 0.5
# Images are decoded at no less than this resolution: a seal's ring (~1 mm) is still 4 px wide and text
# strokes still have edges; the verdict-equality test (tests/unit/test_reduced_decode.py) holds the
# verdicts over the sample and defect corpora equal to those of the full decode.
MEASURE_MIN_DPI = 100.0
# The variance of the Laplacian grows as an image is reduced (edges get steeper per pixel), and faster for
# a soft image than for a sharp one. The blur threshold (rules: min_sharpness) is set for a full decode at
# ~200 dpi, so a score measured on a reduced decode (at 100-200 dpi) is divided by this before it is
# reported or compared. Calibrated on a blur ladder (Gaussian radius 0-3 px at 200 dpi, and at 400 dpi
# decoded at 1/4): around the threshold the reduced score is 5.3-6.6x the full one at 200 dpi and
# 5.1-6.8x at 400 dpi; 5.5 keeps every rung's verdict (docs/benchmarks.md, "Validation profile").
SHARPNESS_REDUCED_FACTOR = 5.5
_A4_WIDTH_MM = 210.0


def chroma(im: Image.Image) -> float:
    """99th percentile of the chroma on a copy reduced to at most 512 px on its long side — by an integer box
    reduction (`Image.reduce`), several times cheaper than the resampling `thumbnail` did."""
    if im.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return 0.0
    small = im.reduce(max(1, -(-max(im.size) // 512)))
    # The chroma planes on their own (`split`): the same float32 values as slicing an interleaved YCbCr
    # array, without its strided reads.
    _, cb, cr = small.convert("YCbCr").split()
    c = np.hypot(np.asarray(cb, dtype=np.float32) - 128.0, np.asarray(cr, dtype=np.float32) - 128.0)
    return float(np.percentile(c, 99))


def sharpness(im: Image.Image, tile: int = 64) -> float:
    """Variance of the Laplacian, measured where the page has content: the image is cut into tiles, tiles
    with contrast (text, lines, stamps) are kept, and the 90th percentile of their Laplacian variance is
    the score. Blank paper does not drag a sharp page's score down, as a whole-page variance would.

    In integers: the Laplacian of 8-bit grey fits int16, and each tile's variance comes from its exact sums
    (Σx, Σx² in int64), so it is exact where float32's two passes rounded (the scores differ from those in
    the last bits only), in ~20 % less time (6.2 → 5.1 ms for a 200-dpi page measured at 100 dpi)."""
    grey8 = np.asarray(im.convert("L"))
    if grey8.shape[0] < 3 or grey8.shape[1] < 3:
        return 0.0
    grey = grey8.astype(np.int16)
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1]
    lap += grey[1:-1, :-2]
    lap += grey[1:-1, 2:]
    lap -= grey[1:-1, 1:-1] * 4
    h, w = lap.shape
    t = min(tile, h, w)
    h, w = h - h % t, w - w % t
    lap_var = _tile_variance(lap[:h, :w], t)
    # Contrast: a tile's standard deviation of grey over 20, i.e. its variance over 400.
    contrast_var = _tile_variance(grey8[1 : h + 1, 1 : w + 1], t)
    selected = lap_var[contrast_var > 400]
    if selected.size == 0:
        return float(lap_var.max())
    return float(np.percentile(selected, 90))


def _tile_variance(values: np.ndarray, t: int) -> np.ndarray:
    """The population variance of each t x t tile of an integer array whose sides are multiples of t."""
    h, w = values.shape
    # int32 holds a row of a tile's squares (64 x 1020² for the Laplacian); the sums of t rows go to int64.
    wide = values.astype(np.int32)
    sums = wide.reshape(h, w // t, t).sum(axis=2).reshape(h // t, t, w // t).sum(axis=1, dtype=np.int64)
    wide *= wide
    squares = wide.reshape(h, w // t, t).sum(axis=2).reshape(h // t, t, w // t).sum(axis=1, dtype=np.int64)
    n = t * t
    return (squares - sums * sums / n) / n


def px_per_mm(im: Image.Image, dpi: float | None) -> float:
    """From the real resolution; an image that records none is taken to span an A4 page's width."""
    return dpi / 25.4 if dpi else im.width / _A4_WIDTH_MM


def measure_scan(
    im: Image.Image, dpi: float | None, *, page: int | None = None, mode: str | None = None, scale: float = 1
) -> ImageFacts:
    """`im` may be a reduced decode (`scale` > 1, `dpi` then that of the copy): the sharpness is reported in
    the full decode's units (SHARPNESS_REDUCED_FACTOR), the width and height are the copy's."""
    c = chroma(im)
    colour = c >= COLOUR_MIN_CHROMA
    score = sharpness(im)
    return ImageFacts(
        width=im.width,
        height=im.height,
        mode=mode or im.mode,
        dpi=dpi,
        colour=colour,
        sharpness=score / SHARPNESS_REDUCED_FACTOR if scale > 1 else score,
        chroma=round(c, 1),
        seals=tuple(raster_seals(im, px_per_mm(im, dpi), page)) if colour else (),
        page=page,
    )


def unmeasured_scan(width: int, height: int, dpi: float, page: int) -> ImageFacts:
    """A page scan beyond the decoding budget: its resolution is known, the rest was not measured."""
    return ImageFacts(width=width, height=height, mode="?", dpi=dpi, colour=None, sharpness=None, page=page)


def decode_scale(dpi: float | None, width: int) -> int:
    """The largest of 1, 2, 4, 8 that keeps the decoded copy at ≥ MEASURE_MIN_DPI; an image that records no
    resolution is taken to span an A4 page's width (as `px_per_mm`)."""
    effective = dpi if dpi else width / (_A4_WIDTH_MM / 25.4)
    scale = 1
    # Half a dpi of slack, as USAB-SCAN-DPI has: a page's effective resolution is a float (199.99999…).
    while scale < 8 and effective + 0.5 >= MEASURE_MIN_DPI * scale * 2:
        scale *= 2
    return scale


# What measuring an image holds at once, per pixel: the decoded copy (RGB(A), up to 4 bytes a pixel of the
# decode) and, per pixel of the copy at MEASURE_MIN_DPI, the grey plane, the Laplacian, the chroma planes
# and the seal mask with their numpy temporaries (~20 bytes; 24 with a margin). Measured: an A3 page at
# 600 dpi (4.35 Mpx decoded at 1/4, 1.9 Mpx measured) added ~45 MiB to a worker's peak, this says 63 MB.
DECODED_BYTES_PER_PIXEL = 4
MEASURED_BYTES_PER_PIXEL = 24


def working_set(width: int, height: int, dpi: float | None, fmt: str | None, *, full: bool = False) -> int:
    """Bytes that measuring an image of this size takes (its header gives the size and resolution): the
    decode at `decode_scale` — in full for a format that cannot reduce while decoding — plus the copy
    at MEASURE_MIN_DPI that the checks measure. The step admits several measurements by this sum."""
    scale = 1 if full or fmt not in ("JPEG", "JPEG2000") else decode_scale(dpi, width)
    decoded_width, decoded_height = width // scale, height // scale
    decoded_dpi = (dpi if dpi else width / (_A4_WIDTH_MM / 25.4)) / scale
    ratio = 1.0 if full or decoded_dpi <= MEASURE_MIN_DPI * 1.05 else MEASURE_MIN_DPI / decoded_dpi
    decoded = decoded_width * decoded_height
    measured = max(1, round(decoded_width * ratio)) * max(1, round(decoded_height * ratio))
    return decoded * DECODED_BYTES_PER_PIXEL + measured * MEASURED_BYTES_PER_PIXEL


def decode_reduced(im: Image.Image, dpi: float | None, *, full: bool = False) -> tuple[Image.Image, float]:
    """Decode an opened (not yet loaded) image at the smallest scale the measurements allow; returns the
    image to measure and its scale (original width / measured width), the copy resampled to MEASURE_MIN_DPI
    (`_at_measure_resolution`). A JPEG is reduced in the DCT
    (`Image.draft`: 1/2, 1/4 or 1/8), which still reads the whole entropy-coded stream, so a truncated file
    still fails; a JPEG 2000 skips resolution levels (`reduce`); other formats are decoded in full and
    measured on a reduced copy. `full`: decode and measure at full size (the verdict-equality test)."""
    scale = 1 if full else decode_scale(dpi, im.width)
    width = im.width
    if scale > 1 and im.format == "JPEG":
        im.draft(im.mode, (im.width // scale, im.height // scale))
    elif scale > 1 and im.format == "JPEG2000":
        im.reduce = scale.bit_length() - 1  # type: ignore[method-assign,assignment]  # 2**reduce
    im.load()  # decodes every byte of the chosen scale: a truncated file fails here
    if im.format == "JPEG2000" and scale > 1:
        # Pillow's JPEG 2000 image shadows the `reduce` method with this level: hand on a plain image.
        im = im.copy()
    if scale > 1 and im.width == width:  # the format could not reduce while decoding
        im = im.reduce(scale)
    if not full:
        im = _at_measure_resolution(im, dpi, width)
    return im, width / im.width


def _at_measure_resolution(im: Image.Image, dpi: float | None, width: int) -> Image.Image:
    """The decoded copy resampled to MEASURE_MIN_DPI exactly. Sharpness (a variance of the Laplacian per
    pixel) depends on how many pixels an edge spans, so the same page scored 1,028 at 200 dpi and 21 at 600
    before issue 18, and every fine scan failed the blur check: measured at one resolution, the score — and
    the threshold — mean the page's sharpness, whatever the scanner's setting. The DCT draft leaves a copy
    at 100-200 dpi; the rest is a box filter over a copy of at most ~1,200 x 1,700 px (an A4 page)."""
    effective = (dpi if dpi else width / (_A4_WIDTH_MM / 25.4)) * im.width / width
    if effective <= MEASURE_MIN_DPI * 1.05:
        return im
    factor = MEASURE_MIN_DPI / effective
    size = (max(1, round(im.width * factor)), max(1, round(im.height * factor)))
    return im.resize(size, Image.Resampling.BOX)


def decode_embedded(xobject: Any, effective_dpi: float, *, full: bool = False) -> tuple[Image.Image, float]:
    """An image XObject of a PDF as a Pillow image and its decode scale, reduced while decoding where the
    format allows (a JPEG as stored: no pypdf decoding step)."""
    filters = xobject.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)] if filters else []
    if names == ["/DCTDecode"]:
        return decode_reduced(Image.open(io.BytesIO(xobject._data)), effective_dpi, full=full)
    im = xobject.decode_as_image()
    if im is None:
        raise ValueError("the image could not be decoded")
    if full:
        return im, 1
    width = im.width
    im = _at_measure_resolution(im, effective_dpi, width)
    return im, width / im.width


def spread(count: int, budget: int) -> set[int]:
    """`budget` indexes out of `count`, first and last included, evenly spaced."""
    if count <= budget:
        return set(range(count))
    if budget <= 1:
        return {0}
    return {round(i * (count - 1) / (budget - 1)) for i in range(budget)}


def worst(values: Sequence[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return min(measured) if measured else None
