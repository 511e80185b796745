"""Raster images (JPEG, PNG, TIFF, JPEG 2000): decoded in full with Pillow; resolution, colour, sharpness
and seal-red area are measured for the scanning checks."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from services.validation.formats.facts import FileFacts, ImageFacts

Image.MAX_IMAGE_PIXELS = 200_000_000  # an A0 page at 600 dpi; beyond this Pillow refuses (decompression bomb)


def inspect_image(data: bytes, facts: FileFacts) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # decodes every byte: a truncated file fails here
        facts.page_count = getattr(im, "n_frames", 1)
        dpi = im.info.get("dpi")
        dpi_value = float(min(dpi)) if dpi and min(dpi) > 1 else None
        # Colour means a colour mode; whether the colour shows a seal is INTEG-SEAL-RED's question.
        colour = im.mode not in ("1", "L", "LA", "I", "I;16", "F", "P") or (im.mode == "P" and _carries_colour(im))
        facts.image = ImageFacts(
            width=im.width,
            height=im.height,
            mode=im.mode,
            dpi=dpi_value,
            colour=colour,
            sharpness=sharpness(im),
            red_area_mm2=red_fraction(im) * _area_mm2(im.width, im.height, dpi_value) if colour else 0.0,
        )
    facts.opens = True


def _area_mm2(width: int, height: int, dpi: float | None) -> float:
    px_per_mm = (dpi or 200.0) / 25.4
    return width * height / px_per_mm**2


def _rgb_array(im: Image.Image, step: int = 2) -> np.ndarray:
    rgb = im.convert("RGB")
    arr = np.asarray(rgb, dtype=np.int16)
    return arr[::step, ::step]


def _carries_colour(im: Image.Image) -> bool:
    arr = _rgb_array(im, 4)
    chroma = arr.max(axis=2) - arr.min(axis=2)
    return bool((chroma > 40).mean() > 0.0002)


def red_fraction(im: Image.Image) -> float:
    """Share of pixels in the seal-red colour range (hue near red, strongly saturated, not dark)."""
    arr = _rgb_array(im)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    mask = (r > 120) & (r - g > 60) & (r - b > 50)
    return float(mask.mean())


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
