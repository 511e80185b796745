"""The large-material generators of the memory benchmark and the large-case e2e test (samples/large_files.py)."""

from __future__ import annotations

import io

import pypdf
import pytest
from PIL import Image

from samples.file_service import FileServer
from samples.large_files import a3_scan_jpeg, write_scanned_pdf

pytestmark = pytest.mark.unit


def test_a_scanned_pdf_has_the_pages_asked_for_each_a_full_page_jpeg(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "doc.pdf"
    assert write_scanned_pdf(path, pages=7, dpi=100) == 7
    reader = pypdf.PdfReader(path, strict=True)
    assert len(reader.pages) == 7
    [image] = reader.pages[6].images
    assert image.image is not None and image.image.size == (827, 1169)  # A4 at 100 dpi


def test_a_scanned_pdf_by_size_ends_within_one_page_under_the_limit(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "doc.pdf"
    limit = 3 * 2**20
    pages = write_scanned_pdf(path, max_bytes=limit, dpi=100)
    size = path.stat().st_size
    assert size <= limit
    assert limit - size < 2 * size / pages  # as many pages as fit, not far fewer
    assert len(pypdf.PdfReader(path, strict=True).pages) == pages


def test_an_a3_scan_at_600_dpi_has_the_pixels_and_resolution_of_one():  # type: ignore[no-untyped-def]
    with Image.open(io.BytesIO(a3_scan_jpeg(seed=1))) as im:
        assert im.size == (7016, 9921) and im.mode == "RGB"
        assert round(im.info["dpi"][0]) == 600


def test_the_file_service_streams_a_file_from_disk(tmp_path):  # type: ignore[no-untyped-def]
    import httpx

    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)) * 9000)
    with FileServer() as server:
        server.disk["big.bin"] = path
        got = httpx.get(server.url("disk", "big.bin"))
    assert got.status_code == 200 and got.content == path.read_bytes()
