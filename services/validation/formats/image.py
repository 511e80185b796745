"""Raster images (JPEG, PNG, TIFF, JPEG 2000): the header is read first — the pixel count is checked against
`Limits.image_max_pixels` before any pixel is decoded, the resolution comes from it — then the image is
decoded at the smallest scale the measurements allow (formats/page_images.py `decode_reduced`: a truncated
file still fails) and measured as a scanned page: sharpness, colour and seal shapes."""

from __future__ import annotations

from dataclasses import replace

from PIL import Image

from services.validation.formats.facts import FileFacts, Limits
from services.validation.formats.page_images import decode_reduced, measure_scan, working_set
from services.validation.formats.source import Source

# Pillow's own guard, a backstop for the images inside documents (image files are refused at
# `Limits.image_max_pixels` from their header, below): Pillow raises only beyond twice this, and warns below.
Image.MAX_IMAGE_PIXELS = Limits().image_max_pixels


def inspect_image(source: Source, facts: FileFacts, limits: Limits = Limits()) -> None:
    with source.open() as fh, Image.open(fh) as im:  # reads the header only
        width, height = im.size  # before the decode: a reduced one changes them
        pixels = width * height
        if pixels > limits.image_max_pixels:
            facts.opens = False
            facts.open_error = (
                f"the image is {width} x {height} = {pixels:,} pixels, over the limit of "
                f"{limits.image_max_pixels:,} (refused undecoded: a decompression bomb or an oversized scan)"
            )
            return
        facts.page_count = getattr(im, "n_frames", 1)
        dpi = im.info.get("dpi")
        dpi_value = float(min(dpi)) if dpi and min(dpi) > 1 else None
        copy, scale = decode_reduced(im, dpi_value, full=limits.full_decode)
        measured = measure_scan(copy, dpi_value / scale if dpi_value else None, scale=scale)
        # The size and resolution the file records, not the reduced copy's (USAB-SCAN-DPI judges it).
        facts.image = replace(measured, width=width, height=height, dpi=dpi_value)
    facts.opens = True


def image_working_set(source: Source, limits: Limits = Limits()) -> int | None:
    """The memory measuring this image file will take, from its header (page_images.working_set); 0 for an
    image that `inspect_image` refuses undecoded, None when the header does not read (it is then measured
    alone: what it holds is not known)."""
    try:
        with source.open() as fh, Image.open(fh) as im:
            width, height = im.size
            if width * height > limits.image_max_pixels:
                return 0
            dpi = im.info.get("dpi")
            dpi_value = float(min(dpi)) if dpi and min(dpi) > 1 else None
            return working_set(width, height, dpi_value, im.format, full=limits.full_decode)  # its first frame
    except Exception:  # any header a reader refuses: inspect_image says why, measured alone
        return None
