"""PDF: parses with pypdf, counts pages, finds encryption, active content, vector seals and the images
drawn on its pages (measured as scans: formats/page_images.py), and verifies CMS/PAdES signatures with
pyHanko (formats/signatures.py)."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterator
from typing import BinaryIO

from services.validation.formats.facts import FileFacts, Limits, SignatureFacts
from services.validation.formats.page_images import (
    SCAN_MIN_PAGE_FRACTION,
    decode_embedded,
    measure_scan,
    spread,
    unmeasured_scan,
)
from services.validation.formats.pdf_content import PlacedImage, page_content
from services.validation.formats.seals import raster_seals
from services.validation.formats.signatures import NO_ANCHORS, TrustAnchors, verify_pdf_signatures
from services.validation.formats.source import Source

_STANDARD_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/adbe.pkcs7.sha1", "/ETSI.RFC3161"}


def inspect_pdf(source: Source, facts: FileFacts, limits: Limits, trust: TrustAnchors = NO_ANCHORS) -> None:
    with source.open() as fh:  # pypdf reads objects from the handle as they are asked for
        _inspect_pdf(source, fh, facts, limits, trust)


def _inspect_pdf(source: Source, fh: BinaryIO, facts: FileFacts, limits: Limits, trust: TrustAnchors) -> None:
    import pypdf
    from pypdf.errors import PdfReadError

    if b"%%EOF" not in source.tail(2048):
        facts.open_error = "the PDF has no end-of-file marker: it is truncated"
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = pypdf.PdfReader(fh, strict=False)
        except PdfReadError as exc:
            facts.open_error = f"the PDF does not parse: {exc}"
            return
        if reader.is_encrypted:
            facts.encrypted = True
            facts.open_error = "the PDF is encrypted"
            return
        pages = reader.pages
        facts.page_count = len(pages)
        if facts.page_count == 0:
            facts.open_error = "the PDF has no pages"
            return
        _measure_pages(reader, pages, facts, limits)
        facts.pdfa_declared = _pdfa_identification(reader)
        facts.active_content = _pdf_active_content(reader, source)
        facts.signatures = _pdf_signatures(reader, source, trust)
    facts.opens = True


_PDFA_PART = re.compile(rb"pdfaid:part(?:>|\s*=\s*[\"'])\s*([1-4])")
_PDFA_LEVEL = re.compile(rb"pdfaid:conformance(?:>|\s*=\s*[\"'])\s*([ABUabu])")


def _pdfa_identification(reader) -> str | None:  # type: ignore[no-untyped-def]
    """'2b' for a PDF whose XMP metadata declares PDF/A-2B (ISO 19005 §6.6.4), else None."""
    ref = reader.trailer["/Root"].get_object().get("/Metadata")
    if ref is None:
        return None
    try:
        xmp = ref.get_object().get_data()
    except Exception:
        return None
    part, level = _PDFA_PART.search(xmp), _PDFA_LEVEL.search(xmp)
    if part is None:
        return None
    return part.group(1).decode() + (level.group(1).decode().lower() if level else "")


_STREAM_START = re.compile(rb"(?<!end)stream\r?\n")
_STREAM_END = b"endstream"
_CARRY = 64  # bytes kept between chunks: longer than any marker or token searched for
_ACTIVE_TOKENS = (
    (re.compile(rb"/JavaScript\b"), "JavaScript"),
    (re.compile(rb"/Launch\b"), "Launch"),
    (re.compile(rb"/JS\b"), "JavaScript"),
)


def outside_streams(source: Source, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
    """The file's bytes with every stream's data left out, piece by piece, in bounded memory: exactly the
    text a `(?<!end)stream\\r?\\n.*?endstream` substitution by `stream endstream` over the whole file
    gives (a stream with no `endstream` after it is left in, as the substitution leaves it: re-read from
    the file). A token may span two pieces: search with the previous piece's end (`_CARRY` bytes)."""
    buf = b""
    consumed = 0  # file offset of buf[0]
    opened_at: int | None = None  # offset just after the `stream` keyword of the stream we are inside
    search_from = 0
    for chunk in source.chunks(chunk_size):
        buf += chunk
        while buf:
            if opened_at is not None:
                at = buf.find(_STREAM_END)
                if at < 0:
                    keep = len(_STREAM_END) - 1  # a marker cut by the chunk boundary stays
                    consumed += max(0, len(buf) - keep)
                    buf = buf[-keep:]
                    break
                consumed += at + len(_STREAM_END)
                buf, opened_at, search_from = buf[at + len(_STREAM_END) :], None, 0
                yield b" endstream"
                continue
            # From `search_from`: starts before it were tried (the carry keeps their lookbehind visible).
            found = _STREAM_START.search(buf, search_from)
            if found is None:
                if len(buf) > _CARRY:
                    yield buf[:-_CARRY]
                    consumed += len(buf) - _CARRY
                    buf = buf[-_CARRY:]
                search_from = max(0, len(buf) - len(b"stream\r\n"))
                break
            yield buf[: found.start()] + b"stream"
            opened_at = consumed + found.start() + len(b"stream")
            consumed += found.end()
            buf, search_from = buf[found.end() :], 0
    if opened_at is None:
        yield buf
        return
    with source.open() as fh:  # never closed: the substitution leaves the rest of the file as it is
        fh.seek(opened_at)
        while piece := fh.read(chunk_size):
            yield piece


def _pdf_active_content(reader, source: Source) -> list[str]:  # type: ignore[no-untyped-def]
    found: set[str] = set()

    def action(obj) -> None:  # type: ignore[no-untyped-def]
        obj = obj.get_object() if hasattr(obj, "get_object") else obj
        if not isinstance(obj, dict):
            return
        kind = obj.get("/S")
        if kind in ("/JavaScript", "/Launch", "/ImportData"):
            found.add(str(kind).lstrip("/"))
        nxt = obj.get("/Next")
        if nxt is not None:
            for item in nxt if isinstance(nxt, list) else [nxt]:
                action(item)

    root = reader.trailer["/Root"].get_object()
    if "/OpenAction" in root:
        target = root["/OpenAction"].get_object()
        # An /OpenAction that only shows a page (a destination array or a GoTo) is harmless.
        if isinstance(target, dict) and target.get("/S") != "/GoTo":
            found.add("OpenAction")
            action(target)
    if "/AA" in root:
        found.add("AA")
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names.get_object():
        found.add("JavaScript")
    for page in reader.pages:
        if "/AA" in page:
            found.add("AA")
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if "/A" in annot:
                action(annot["/A"])
            if "/AA" in annot:
                found.add("AA")
    # Tokens left in uncompressed objects that the walk above did not reach — outside stream data: the bytes
    # of a scan's image are random-looking, and about one 250 KB scan in a hundred holds `/JS` by chance.
    previous = b""
    for piece in outside_streams(source):
        window = previous + piece
        found.update(label for token, label in _ACTIVE_TOKENS if token.search(window))
        previous = window[-_CARRY:]
    return sorted(found)


def _pdf_signatures(reader, source: Source, trust: TrustAnchors) -> list[SignatureFacts]:  # type: ignore[no-untyped-def]
    fields = reader.get_fields() or {}
    out: list[SignatureFacts] = []
    for name, spec in fields.items():
        if spec.get("/FT") != "/Sig":
            continue
        value = spec.get("/V")
        value = value.get_object() if value is not None and hasattr(value, "get_object") else value
        if not value:
            out.append(SignatureFacts(field_name=name, signed=False))
            continue
        sub_filter = str(value.get("/SubFilter")) if value.get("/SubFilter") else None
        out.append(
            SignatureFacts(
                field_name=name, signed=True, sub_filter=sub_filter, standard=sub_filter in _STANDARD_SUBFILTERS
            )
        )
    if any(s.standard for s in out):
        out = verify_pdf_signatures(source, out, trust)
    return out


def _forget(reader, reference) -> None:  # type: ignore[no-untyped-def]
    """Drop pypdf's cached copy of an image object: pypdf keeps every object it has read, stream data
    included, so walking a 1 GiB scanned document would otherwise end with the whole file in memory. The
    page keeps only the reference; the image is read again if it is one of those decoded."""
    if hasattr(reference, "idnum"):
        reader.resolved_objects.pop((reference.generation, reference.idnum), None)


def _measure_pages(reader, pages, facts: FileFacts, limits: Limits) -> None:  # type: ignore[no-untyped-def]
    """Walk every page's content (cheap: no image is decoded), then decode a bounded, evenly spread set of
    the images drawn: page scans are measured as scans, smaller images are searched for seals."""
    placed: dict[object, PlacedImage] = {}  # an image drawn on several pages is measured once
    for number, page in enumerate(pages, start=1):
        content = page_content(page, number)
        facts.seals.extend(content.seals)
        facts.vector_colour = facts.vector_colour or content.colour
        for image in content.images:
            placed.setdefault(image.key, image)
            _forget(reader, image.reference)
    images = list(placed.values())
    chosen = spread(len(images), limits.pdf_max_images_decoded)
    for i, image in enumerate(images):
        scan = image.page_fraction >= SCAN_MIN_PAGE_FRACTION
        if i not in chosen:
            facts.images_not_decoded += 1
            if scan:
                facts.page_images.append(
                    unmeasured_scan(image.width_px, image.height_px, round(image.effective_dpi, 1), image.page)
                )
            continue
        xobject = image.reference.get_object() if hasattr(image.reference, "get_object") else image.reference
        im, scale = decode_embedded(xobject, image.effective_dpi, full=limits.full_decode)
        del xobject
        _forget(reader, image.reference)
        with im:
            # The effective resolution of the decoded copy (a JPEG may have been decoded reduced).
            dpi = image.effective_dpi * im.width / max(image.width_px, 1)
            if scan:
                measured = measure_scan(im, dpi, page=image.page, scale=scale)
                # Report the resolution the page really has, not that of the reduced copy.
                facts.page_images.append(dataclasses.replace(measured, dpi=round(image.effective_dpi, 1)))
                facts.seals.extend(measured.seals)
            else:
                facts.seals.extend(raster_seals(im, dpi / 25.4, image.page))
