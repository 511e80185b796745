"""What a file really is and whether it really opens — measured from its bytes, never from its name.

`inspect(source, limits)` identifies the format by PRONOM (FIDO: the PUID, formats/pronom.py) and by its
signature (the closed list of archival formats
DA/T 70 accepts: PDF, OFD, JPEG, PNG, TIFF, JPEG 2000, MP3, WAV, MP4), opens it with the library that
reads that format (pypdf, Pillow, mutagen, zipfile + ElementTree for OFD), and measures what the
checks need: pages, encryption, active content, signatures, image resolution, sharpness, colour and
red (seal) area. Pure: a file in (formats/source.py: read through handles and windows, never whole), facts
out; CPU-heavy, so the step calls it in a worker thread.

One module per reader: identify (the format from its signature), pdf, ofd, image, media; facts holds
what they measure.
"""

from __future__ import annotations

from services.validation.formats.facts import FileFacts, ImageFacts, Limits, OfdSealFacts, SignatureFacts
from services.validation.formats.identify import (
    ARCHIVAL_FORMATS,
    EXTENSIONS,
    MEDIA_FORMATS,
    MEDIA_TYPES,
    RASTER_FORMATS,
    Format,
    identify,
)
from services.validation.formats.image import image_working_set, inspect_image
from services.validation.formats.media import inspect_media
from services.validation.formats.ofd import inspect_ofd
from services.validation.formats.pdf import inspect_pdf
from services.validation.formats.pronom import identify_pronom
from services.validation.formats.signatures import NO_ANCHORS, TrustAnchors
from services.validation.formats.source import Source

__all__ = [
    "ARCHIVAL_FORMATS",
    "EXTENSIONS",
    "MEDIA_FORMATS",
    "MEDIA_TYPES",
    "NO_ANCHORS",
    "RASTER_FORMATS",
    "FileFacts",
    "Format",
    "ImageFacts",
    "Limits",
    "OfdSealFacts",
    "SignatureFacts",
    "Source",
    "TrustAnchors",
    "identify",
    "inspect",
    "working_set",
]


def inspect(data: bytes | Source, limits: Limits = Limits(), trust: TrustAnchors = NO_ANCHORS) -> FileFacts:
    """`trust`: the platform's signature trust anchors (the step loads them; see formats/signatures.py)."""
    source = Source.of(data)
    facts = FileFacts(format=identify(source), size=source.size)
    pronom = identify_pronom(source)
    # OFD has no PUID: PRONOM sees only its zip container (x-fmt/263), so the signature decides alone.
    if pronom is not None and facts.format is not Format.OFD:
        facts.puid, facts.pronom_name = pronom.puid, pronom.name
    if source.size == 0:
        facts.open_error = "the file is empty (0 bytes)"
        return facts
    try:
        if facts.format is Format.PDF:
            inspect_pdf(source, facts, limits, trust)
        elif facts.format is Format.OFD:
            inspect_ofd(source, facts, limits, trust)
        elif facts.format in RASTER_FORMATS:
            inspect_image(source, facts, limits)
        elif facts.format in MEDIA_FORMATS:
            inspect_media(source, facts)
        else:
            facts.open_error = "not a format this archive can open"
    except Exception as exc:  # any parser failure means: it does not open
        facts.opens = False
        facts.open_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    return facts


def working_set(data: bytes | Source, limits: Limits = Limits()) -> int | None:
    """The memory `inspect` will take for this file, where it can be known cheaply: an image's from its
    header. None for a document or media file (a PDF's page images are known only once it is parsed): the
    step measures such a file alone."""
    source = Source.of(data)
    if source.size == 0 or identify(source) not in RASTER_FORMATS:
        return None
    return image_working_set(source, limits)
