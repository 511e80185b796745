"""Raster images (JPEG, PNG, TIFF, JPEG 2000): decoded in full with Pillow (a truncated file fails), then
measured as a scanned page (formats/page_images.py): resolution, sharpness, colour and seal shapes."""

from __future__ import annotations

import io

from PIL import Image

from services.validation.formats.facts import FileFacts
from services.validation.formats.page_images import measure_scan

Image.MAX_IMAGE_PIXELS = 200_000_000  # an A0 page at 600 dpi; beyond this Pillow refuses (decompression bomb)


def inspect_image(data: bytes, facts: FileFacts) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # decodes every byte: a truncated file fails here
        facts.page_count = getattr(im, "n_frames", 1)
        dpi = im.info.get("dpi")
        dpi_value = float(min(dpi)) if dpi and min(dpi) > 1 else None
        facts.image = measure_scan(im, dpi_value)
    facts.opens = True
