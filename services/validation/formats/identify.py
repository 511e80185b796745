"""What a file is, from its first bytes: the closed list of archival formats DA/T 70 accepts, the media
types and extensions each may be declared with, and `identify`.

A few magic numbers written here rather than a general library: the list is closed, and OFD (a zip whose
root holds OFD.xml) is not something general sniffers know. An ISO-BMFF file is named by its major brand
(isom/mp41/mp42… = MP4, qt = QuickTime, heic/avif… = HEIF images), not taken for MP4 because it has `ftyp`.
"""

from __future__ import annotations

import zipfile
from enum import StrEnum

from services.validation.formats.source import Source


class Format(StrEnum):
    PDF = "pdf"
    OFD = "ofd"
    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    JP2 = "jp2"
    MP3 = "mp3"
    WAV = "wav"
    MP4 = "mp4"
    # Identified, but not archival formats:
    ZIP = "zip"  # a zip archive that is not an OFD document
    QUICKTIME = "quicktime"  # ISO-BMFF with the QuickTime brand (.mov)
    HEIF = "heif"  # ISO-BMFF still images: HEIC, AVIF
    UNKNOWN = "unknown"


NOT_ARCHIVAL = frozenset({Format.ZIP, Format.QUICKTIME, Format.HEIF, Format.UNKNOWN})
ARCHIVAL_FORMATS = frozenset(f for f in Format if f not in NOT_ARCHIVAL)
RASTER_FORMATS = frozenset({Format.JPEG, Format.PNG, Format.TIFF, Format.JP2})
MEDIA_FORMATS = frozenset({Format.MP3, Format.WAV, Format.MP4})

MEDIA_TYPES: dict[Format, frozenset[str]] = {
    Format.PDF: frozenset({"application/pdf"}),
    Format.OFD: frozenset({"application/ofd", "application/vnd.ofd", "application/x-ofd"}),
    Format.JPEG: frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    Format.PNG: frozenset({"image/png"}),
    Format.TIFF: frozenset({"image/tiff", "image/tif"}),
    Format.JP2: frozenset({"image/jp2", "image/jpx", "image/jpm", "image/j2k"}),
    Format.MP3: frozenset({"audio/mpeg", "audio/mp3"}),
    Format.WAV: frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    Format.MP4: frozenset({"video/mp4", "audio/mp4", "application/mp4"}),
    Format.ZIP: frozenset({"application/zip"}),
}
EXTENSIONS: dict[Format, frozenset[str]] = {
    Format.PDF: frozenset({"pdf"}),
    Format.OFD: frozenset({"ofd"}),
    Format.JPEG: frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    Format.PNG: frozenset({"png"}),
    Format.TIFF: frozenset({"tif", "tiff"}),
    Format.JP2: frozenset({"jp2", "j2k", "jpf", "jpx", "j2c"}),
    Format.MP3: frozenset({"mp3"}),
    Format.WAV: frozenset({"wav"}),
    Format.MP4: frozenset({"mp4", "m4a", "m4v"}),
    Format.ZIP: frozenset({"zip"}),
}


def identify(data: bytes | Source) -> Format:
    source = Source.of(data)
    window = source.head(1024)
    head = window[:64]
    if b"%PDF-" in window:
        return Format.PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            with source.open() as fh, zipfile.ZipFile(fh) as archive:  # reads the central directory only
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, EOFError, OSError):
            return Format.ZIP
        return Format.OFD if "OFD.xml" in names else Format.ZIP
    if head.startswith(b"\xff\xd8\xff"):
        return Format.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Format.PNG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return Format.TIFF
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return Format.JP2
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Format.WAV
    if head[4:8] == b"ftyp":
        return _iso_bmff(head[8:12])
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return Format.MP3
    return Format.UNKNOWN


# ISO-BMFF (ISO/IEC 14496-12) files all start with an `ftyp` box; its major brand says what the file is.
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4A ", b"M4V ", b"dash"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


def _iso_bmff(major_brand: bytes) -> Format:
    if major_brand in _MP4_BRANDS:
        return Format.MP4
    if major_brand == b"qt  ":
        return Format.QUICKTIME
    if major_brand in _HEIF_BRANDS:
        return Format.HEIF
    return Format.UNKNOWN
