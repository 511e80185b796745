"""Active content in PDFs (SEC-PDF-ACTIVE) is looked for where it can act, not in the bytes of images."""

from __future__ import annotations

import io

import pytest

pytestmark = pytest.mark.unit


def _scanned_pdf_with_token_in_its_image(token: bytes) -> bytes:
    """A scanned page as a PDF (Pillow) whose JPEG image data happens to contain `token` — as random-looking
    compressed bytes do now and then (about one 250 KB scan in a hundred holds `/JS` followed by a non-word byte)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 560), (240, 236, 228)).save(buf, "PDF", resolution=200.0)
    data = buf.getvalue()
    start = data.index(b"stream", data.index(b"/DCTDecode")) + len(b"stream\n")
    at = start + 40  # inside the JPEG data, past its header
    return data[:at] + token + data[at + len(token) :]


def test_bytes_inside_a_scans_image_stream_are_not_active_content():
    from samples.defects import javascript_pdf
    from services.validation.formats import inspect

    data = _scanned_pdf_with_token_in_its_image(b"/JS ")
    facts = inspect(data)
    assert facts.opens, facts.open_error
    assert facts.active_content == []
    # still found where it means something
    assert "JavaScript" in inspect(javascript_pdf(data)).active_content
