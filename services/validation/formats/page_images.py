"""Scanned pages wherever they are — an image file, or an image drawn on a PDF or OFD page — measured
the same way: resolution, sharpness (variance of the Laplacian over content tiles), colour from the
content (chroma, not the image mode) and the seal shapes on it (formats/seals.py).

Memory stays bounded: an embedded JPEG is decoded reduced (`Image.draft`) when its resolution is well
above what the measurements need, images are decoded one at a time and dropped, and at most
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
# Embedded images are decoded at no less than this resolution (the blur threshold is set for ~200 dpi).
MEASURE_MIN_DPI = 200.0
_A4_WIDTH_MM = 210.0


def chroma(im: Image.Image) -> float:
    """99th percentile of the chroma on a copy reduced to at most 512 px on its long side."""
    if im.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return 0.0
    small = im.copy()
    small.thumbnail((512, 512))
    ycc = np.asarray(small.convert("YCbCr"), dtype=np.float32)
    c = np.hypot(ycc[..., 1] - 128.0, ycc[..., 2] - 128.0)
    return float(np.percentile(c, 99))


def sharpness(im: Image.Image, tile: int = 64) -> float:
    """Variance of the Laplacian, measured where the page has content: the image is cut into tiles, tiles
    with contrast (text, lines, stamps) are kept, and the 90th percentile of their Laplacian variance is
    the score. Blank paper does not drag a sharp page's score down, as a whole-page variance would."""
    grey = np.asarray(im.convert("L"), dtype=np.float32)
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = grey[1:-1, 1:-1] * -4 + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
    h, w = lap.shape
    t = min(tile, h, w)
    h, w = h - h % t, w - w % t
    lap_tiles = lap[:h, :w].reshape(h // t, t, w // t, t).var(axis=(1, 3))
    contrast = grey[1 : h + 1, 1 : w + 1].reshape(h // t, t, w // t, t).std(axis=(1, 3))
    selected = lap_tiles[contrast > 20]
    if selected.size == 0:
        return float(lap_tiles.max())
    return float(np.percentile(selected, 90))


def px_per_mm(im: Image.Image, dpi: float | None) -> float:
    """From the real resolution; an image that records none is taken to span an A4 page's width."""
    return dpi / 25.4 if dpi else im.width / _A4_WIDTH_MM


def measure_scan(im: Image.Image, dpi: float | None, *, page: int | None = None, mode: str | None = None) -> ImageFacts:
    c = chroma(im)
    colour = c >= COLOUR_MIN_CHROMA
    return ImageFacts(
        width=im.width,
        height=im.height,
        mode=mode or im.mode,
        dpi=dpi,
        colour=colour,
        sharpness=sharpness(im),
        chroma=round(c, 1),
        seals=tuple(raster_seals(im, px_per_mm(im, dpi), page)) if colour else (),
        page=page,
    )


def unmeasured_scan(width: int, height: int, dpi: float, page: int) -> ImageFacts:
    """A page scan beyond the decoding budget: its resolution is known, the rest was not measured."""
    return ImageFacts(width=width, height=height, mode="?", dpi=dpi, colour=None, sharpness=None, page=page)


def decode_embedded(xobject: Any, effective_dpi: float) -> Image.Image:
    """An image XObject of a PDF as a Pillow image, reduced while decoding where the format allows."""
    filters = xobject.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)] if filters else []
    if names == ["/DCTDecode"]:
        im = Image.open(io.BytesIO(xobject._data))  # the JPEG as stored: no pypdf decoding step
        scale = 1
        while scale < 8 and effective_dpi / (scale * 2) >= MEASURE_MIN_DPI:
            scale *= 2
        if scale > 1:
            im.draft(im.mode, (im.width // scale, im.height // scale))
        im.load()
        return im
    im = xobject.decode_as_image()
    if im is None:
        raise ValueError("the image could not be decoded")
    return im


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
