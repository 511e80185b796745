"""Page images of archived files for the record page: a PDF page or a scan, rendered on the server as a
thumbnail (PNG for PDF pages, JPEG for scans), so that the browser never receives the file itself unless
someone downloads it.

Pure: bytes in, an image out (pypdfium2 for PDF, Pillow for scans). The route (services/query/routes/files.py)
reads the bytes through the same digest-verified read as a download, and keeps the images in the
bounded cache of services/query/adapters/preview_cache.py, keyed by the file's SHA-256."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from PIL import Image, ImageSequence, UnidentifiedImageError

PDF_TYPES = frozenset({"application/pdf"})
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/tiff", "image/jp2", "image/jpx", "image/gif", "image/bmp"})
PLAYABLE_PREFIXES = ("audio/", "video/")
DEFAULT_WIDTH = 480
MIN_WIDTH, MAX_WIDTH = 80, 1600
# A 400-dpi A3 scan is ~ 4700 × 6600 px (31 M); 64 M pixels decode to at most 192 MB of RGB, within the
# query pod's memory. Past this Pillow's bomb guard refuses the file (no page image; it can be downloaded).
MAX_IMAGE_PIXELS = 64_000_000

# PDFium is not thread-safe: one rendering at a time per process (renders take tens of milliseconds).
_PDFIUM = threading.Lock()


class NoPreview(ValueError):
    """The file cannot be shown as an image (its format has no page images, or it does not render)."""


@dataclass(frozen=True)
class PageImage:
    data: bytes  # PNG (a PDF page) or JPEG (a scan): image_media_type tells
    page: int  # 1-based
    pages: int  # how many pages the file has


def previewable(media_type: str | None) -> bool:
    return (media_type or "").split(";")[0].strip().lower() in PDF_TYPES | IMAGE_TYPES


def playable(media_type: str | None) -> bool:
    return (media_type or "").lower().startswith(PLAYABLE_PREFIXES)


def clamp_width(width: int | None) -> int:
    return DEFAULT_WIDTH if width is None else max(MIN_WIDTH, min(MAX_WIDTH, width))


def render_page(data: bytes, media_type: str, page: int = 1, width: int = DEFAULT_WIDTH) -> PageImage:
    """Page `page` (1-based) of the file as an image `width` pixels wide (at most its natural width for a
    scan): PNG for a PDF page, JPEG for a scan.
    Raises NoPreview saying why when the format has no page images, the page does not exist or the file
    does not render."""
    kind = media_type.split(";")[0].strip().lower()
    if kind in PDF_TYPES:
        return _pdf_page(data, page, width)
    if kind in IMAGE_TYPES:
        return _image_page(data, page, width)
    raise NoPreview(f"files of type {media_type} have no page images; download the file to open it")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # compress_level 3: a third larger than the default 6 on noisy scans, several times faster; no `optimize`
    # (it tries every filter and costs seconds per page). The cache pays the encoding once per page anyway.
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    # A scan is a photograph of paper: JPEG is a fifth of the PNG's size and encodes a hundred times faster.
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def image_media_type(data: bytes) -> str:
    """The type of a page image made here: PNG for PDF pages (text and lines), JPEG for scans."""
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def _check_page(page: int, pages: int) -> None:
    if not 1 <= page <= pages:
        raise NoPreview(f"the file has {pages} page(s); there is no page {page}")


def _pdf_page(data: bytes, page: int, width: int) -> PageImage:
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise NoPreview(f"the PDF does not open for rendering: {exc}") from exc
        try:
            pages = len(pdf)
            _check_page(page, pages)
            sheet = pdf[page - 1]
            try:
                scale = width / max(sheet.get_width(), 1.0)
                bitmap = sheet.render(scale=scale, draw_annots=True)
                image = bitmap.to_pil().convert("RGB")
            finally:
                sheet.close()
        finally:
            pdf.close()
    return PageImage(_png(image), page, pages)


def _image_page(data: bytes, page: int, width: int) -> PageImage:
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            pages = getattr(image, "n_frames", 1)
            _check_page(page, pages)
            frame = next(f for i, f in enumerate(ImageSequence.Iterator(image)) if i == page - 1)
            # A JPEG decodes straight at a fraction of its size (DCT scaling): 8× less work for a 600-dpi scan.
            frame.draft("RGB", (width, width))
            shown = frame.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NoPreview(f"the image does not decode: {exc}") from exc
    if shown.width > width:
        height = max(1, round(shown.height * width / shown.width))
        shown = shown.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return PageImage(_jpeg(shown), page, pages)
