"""Large materials for the memory benchmark and the large-case e2e test, written to disk (never committed,
never held whole in memory): a scanned PDF of any number of pages or bytes, and big A3 colour scans.

    write_scanned_pdf(path, pages=500)                  a 500-page scanned document (one JPEG per page)
    write_scanned_pdf(path, max_bytes=1024**3)          a scanned document of (just under) 1 GiB
    a3_scan_jpeg(seed, dpi=600)                         one A3 colour scan at 600 dpi (7016 x 9921 px)

The PDF is written object by object with its cross-reference table at the end, so a 1 GiB document takes
one page image in memory, whatever its size. Every page carries its own copy of one of a few scanned
pages (distinct objects, as a scanner's output has), drawn over the whole page at the scan's resolution.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from samples.documents import scanned_page_jpeg

A3_MM = (297.0, 420.0)
_PT_PER_MM = 72 / 25.4


def a3_scan_jpeg(seed: int, dpi: int = 600) -> bytes:
    """An A3 colour scan with a red seal, as a JPEG recording `dpi` (600 dpi: 7016 x 9921 px, ~70 Mpx)."""
    return scanned_page_jpeg(seed, dpi=dpi, colour=True, with_seal=True, paper_mm=A3_MM)


def write_scanned_pdf(
    path: Path,
    *,
    pages: int | None = None,
    max_bytes: int | None = None,
    dpi: int = 300,
    variants: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write a scanned A4 document to `path`: `pages` pages, or as many as fit in `max_bytes` (the file
    then ends within one page of it). Returns the number of pages. `progress(done, total)` is called
    every 50 pages."""
    if (pages is None) == (max_bytes is None):
        raise ValueError("give exactly one of pages= or max_bytes=")
    scans = [scanned_page_jpeg(seed, dpi=dpi) for seed in range(variants)]
    if pages is None:
        assert max_bytes is not None
        # Per page: the image, ~300 bytes of page and content objects, 3 xref lines and a /Kids entry.
        per_page = sum(len(s) for s in scans) / len(scans) + 300 + 3 * 20 + 12
        pages = max(1, math.floor((max_bytes - 4096) / per_page))
    sizes = []
    for scan in scans:
        with Image.open(io.BytesIO(scan)) as im:
            sizes.append(im.size)
    width_pt, height_pt = 210 * _PT_PER_MM, 297 * _PT_PER_MM
    offsets: dict[int, int] = {}
    with path.open("wb") as out:

        def obj(number: int, body: bytes, stream: bytes | None = None) -> None:
            offsets[number] = out.tell()
            out.write(b"%d 0 obj\n" % number + body)
            if stream is not None:
                out.write(b"\nstream\n" + stream + b"\nendstream")
            out.write(b"\nendobj\n")

        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = []
        for page in range(pages):
            scan = scans[page % len(scans)]
            w, h = sizes[page % len(scans)]
            image, content, page_obj = 3 + 3 * page, 4 + 3 * page, 5 + 3 * page
            obj(
                image,
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>" % (w, h, len(scan)),
                scan,
            )
            draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (width_pt, height_pt)
            obj(content, b"<< /Length %d >>" % len(draw), draw)
            obj(
                page_obj,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (width_pt, height_pt, image, content),
            )
            kids.append(b"%d 0 R" % page_obj)
            if progress and (page + 1) % 50 == 0:
                progress(page + 1, pages)
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, b" ".join(kids)))
        count = 3 + 3 * pages
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        for number in range(1, count):
            out.write(b"%010d 00000 n \n" % offsets[number])
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise RuntimeError(f"{path} came out at {path.stat().st_size} bytes, over {max_bytes}")
    return pages
