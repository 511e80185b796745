"""What a file really is and whether it really opens — measured from its bytes, never from its name.

`inspect(data, limits)` identifies the format by its signature (the closed list of archival formats
DA/T 70 accepts: PDF, OFD, JPEG, PNG, TIFF, JPEG 2000, MP3, WAV, MP4), opens it with the library that
reads that format (pypdf, Pillow, mutagen, zipfile + ElementTree for OFD), and measures what the
checks need: pages, encryption, active content, signatures, image resolution, sharpness, colour and
red (seal) area. Pure: bytes in, facts out; CPU-heavy, so the step calls it in a worker thread.

Format identification is a few magic numbers written here rather than a general library: the list is
closed, and OFD (a zip whose root holds OFD.xml) is not something general sniffers know.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = 200_000_000  # an A0 page at 600 dpi; beyond this Pillow refuses (decompression bomb)


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
    ZIP = "zip"  # a zip archive that is not an OFD document: identified, but not an archival format
    UNKNOWN = "unknown"


ARCHIVAL_FORMATS = frozenset(f for f in Format if f not in (Format.ZIP, Format.UNKNOWN))
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


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile file from exhausting the worker."""

    zip_max_ratio: float = 100.0  # uncompressed / compressed, for the whole archive
    zip_max_total_bytes: int = 512 * 1024 * 1024
    zip_max_entries: int = 10_000
    xml_max_bytes: int = 16 * 1024 * 1024
    pdf_max_images_for_seal: int = 4


def identify(data: bytes) -> Format:
    head = data[:64]
    if b"%PDF-" in data[:1024]:
        return Format.PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
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
        return Format.MP4
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return Format.MP3
    return Format.UNKNOWN


@dataclass(frozen=True)
class SignatureFacts:
    field_name: str
    signed: bool
    sub_filter: str | None = None
    standard: bool = False  # CMS / PAdES, which pyHanko verifies
    intact: bool | None = None  # the signed byte ranges hash to the signed digest
    valid: bool | None = None  # the CMS signature verifies with the signer's key
    trusted: bool | None = None  # the signer's certificate chains to a configured trust root
    covers_whole_file: bool | None = None
    signer: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ImageFacts:
    width: int
    height: int
    mode: str
    dpi: float | None  # the smaller of the two recorded resolutions; None when the file records none
    colour: bool  # a colour mode that actually carries colour (not grey stored as RGB)
    sharpness: float  # 90th percentile of the Laplacian's variance over content tiles
    red_area_mm2: float  # area of seal-red pixels, in square millimetres of paper


@dataclass
class FileFacts:
    format: Format
    size: int
    opens: bool = False
    open_error: str | None = None
    encrypted: bool = False
    zip_bomb: str | None = None
    page_count: int | None = None
    active_content: list[str] = field(default_factory=list)
    signatures: list[SignatureFacts] = field(default_factory=list)
    image: ImageFacts | None = None
    red_vector_shapes: int = 0  # red curved paths painted in a PDF (a vector seal's ring)
    red_raster_area_mm2: float = 0.0  # seal-red area in images embedded in a PDF
    media_seconds: float | None = None


def inspect(data: bytes, limits: Limits = Limits()) -> FileFacts:
    facts = FileFacts(format=identify(data), size=len(data))
    if not data:
        facts.open_error = "the file is empty (0 bytes)"
        return facts
    try:
        if facts.format is Format.PDF:
            _inspect_pdf(data, facts, limits)
        elif facts.format is Format.OFD:
            _inspect_ofd(data, facts, limits)
        elif facts.format in RASTER_FORMATS:
            _inspect_image(data, facts)
        elif facts.format in MEDIA_FORMATS:
            _inspect_media(data, facts)
        else:
            facts.open_error = "not a format this archive can open"
    except Exception as exc:  # any parser failure means: it does not open
        facts.opens = False
        facts.open_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    return facts


# --- PDF -------------------------------------------------------------------------------------------------

_STANDARD_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/adbe.pkcs7.sha1", "/ETSI.RFC3161"}


def _inspect_pdf(data: bytes, facts: FileFacts, limits: Limits) -> None:
    import pypdf
    from pypdf.errors import PdfReadError

    if b"%%EOF" not in data[-2048:]:
        facts.open_error = "the PDF has no end-of-file marker: it is truncated"
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
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
        images_seen = 0
        for page in pages:
            contents = page.get_contents()
            stream = contents.get_data() if contents is not None else b""
            facts.red_vector_shapes += _red_curved_paths(stream)
            if facts.red_vector_shapes == 0 and images_seen < limits.pdf_max_images_for_seal:
                for image in page.images:
                    if images_seen >= limits.pdf_max_images_for_seal:
                        break
                    images_seen += 1
                    pil = image.image
                    if pil is None:
                        continue
                    w_mm = float(page.mediabox.width) / 72 * 25.4
                    h_mm = float(page.mediabox.height) / 72 * 25.4
                    fraction = _red_fraction(pil)
                    facts.red_raster_area_mm2 += fraction * w_mm * h_mm
        facts.active_content = _pdf_active_content(reader, data)
        facts.signatures = _pdf_signatures(reader, data)
    facts.opens = True


def _pdf_active_content(reader, data: bytes) -> list[str]:  # type: ignore[no-untyped-def]
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
    # Tokens left in uncompressed objects that the walk above did not reach.
    for token, label in ((rb"/JavaScript\b", "JavaScript"), (rb"/Launch\b", "Launch"), (rb"/JS\b", "JavaScript")):
        if re.search(token, data):
            found.add(label)
    return sorted(found)


def _pdf_signatures(reader, data: bytes) -> list[SignatureFacts]:  # type: ignore[no-untyped-def]
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
        out = _verify_with_pyhanko(data, out)
    return out


def _verify_with_pyhanko(data: bytes, found: list[SignatureFacts]) -> list[SignatureFacts]:
    """Cryptographic verification of CMS/PAdES signatures. No trust roots are configured, so `trusted`
    says whether the chain reached one; integrity and validity are what the check decides on."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    # Without configured trust roots every chain is "untrusted"; pyHanko logs that with a traceback.
    logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)
    verified: dict[str, SignatureFacts] = {}
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        for embedded in reader.embedded_signatures:
            try:
                status = validate_pdf_signature(embedded, ValidationContext(allow_fetching=False))
                verified[embedded.field_name] = SignatureFacts(
                    field_name=embedded.field_name,
                    signed=True,
                    sub_filter=str(embedded.sig_object.get("/SubFilter")),
                    standard=True,
                    intact=bool(status.intact),
                    valid=bool(status.valid),
                    trusted=bool(status.trusted),
                    covers_whole_file=str(status.coverage).endswith("ENTIRE_FILE"),
                    signer=status.signing_cert.subject.human_friendly if status.signing_cert else None,
                )
            except Exception as exc:
                verified[embedded.field_name] = SignatureFacts(
                    field_name=embedded.field_name,
                    signed=True,
                    standard=True,
                    intact=False,
                    valid=False,
                    error=f"{type(exc).__name__}: {str(exc)[:200]}",
                )
    except Exception as exc:
        return [
            SignatureFacts(
                s.field_name, s.signed, s.sub_filter, s.standard, intact=False, valid=False, error=f"{exc!s:.200}"
            )
            if s.standard
            else s
            for s in found
        ]
    return [verified.get(s.field_name, s) if s.standard else s for s in found]


_PDF_STRING = re.compile(rb"\((?:\\.|[^\\()])*\)|<[0-9A-Fa-f\s]*>", re.S)
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_STROKING = {b"S", b"s", b"B", b"B*", b"b", b"b*"}
_FILLING = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}


def _is_red_rgb(r: float, g: float, b: float) -> bool:
    return r >= 0.55 and g <= 0.35 and b <= 0.35 and r - max(g, b) >= 0.35


def _is_red_cmyk(c: float, m: float, y: float, k: float) -> bool:
    return c <= 0.3 and m >= 0.6 and y >= 0.5 and k <= 0.3


def _red_curved_paths(stream: bytes) -> int:
    """Count paths that contain curves and are painted red — how a vector seal's ring looks in a
    content stream (a red letterhead is text and straight rules, so it does not count)."""
    tokens = _PDF_STRING.sub(b" ", stream).split()
    stroke_red = fill_red = False
    stack: list[tuple[bool, bool]] = []
    operands: list[bytes] = []
    curves = False
    count = 0
    for tok in tokens:
        if tok[:1].isdigit() or tok[:1] in (b"-", b"."):
            operands.append(tok)
            continue
        nums = []
        for o in operands[-4:]:
            try:
                nums.append(float(o))
            except ValueError:
                nums.append(0.0)
        if tok in (b"rg", b"RG") and len(nums) >= 3:
            red = _is_red_rgb(*nums[-3:])
            fill_red, stroke_red = (red, stroke_red) if tok == b"rg" else (fill_red, red)
        elif tok in (b"k", b"K") and len(nums) >= 4:
            red = _is_red_cmyk(*nums[-4:])
            fill_red, stroke_red = (red, stroke_red) if tok == b"k" else (fill_red, red)
        elif tok in (b"g", b"G"):
            fill_red, stroke_red = (False, stroke_red) if tok == b"g" else (fill_red, False)
        elif tok == b"q":
            stack.append((stroke_red, fill_red))
        elif tok == b"Q" and stack:
            stroke_red, fill_red = stack.pop()
        elif tok in (b"c", b"v", b"y"):
            curves = True
        elif tok in _PAINT or tok == b"n":
            if curves and ((tok in _STROKING and stroke_red) or (tok in _FILLING and fill_red)):
                count += 1
            curves = False
        operands.clear()
    return count


# --- OFD (GB/T 33190): a zip package whose root OFD.xml points at the documents -------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _inspect_ofd(data: bytes, facts: FileFacts, limits: Limits) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        total = sum(i.file_size for i in infos)
        if len(infos) > limits.zip_max_entries:
            facts.zip_bomb = f"{len(infos)} entries (limit {limits.zip_max_entries})"
        elif total > limits.zip_max_total_bytes:
            facts.zip_bomb = f"{total} bytes uncompressed (limit {limits.zip_max_total_bytes})"
        elif total / max(len(data), 1) > limits.zip_max_ratio:
            facts.zip_bomb = f"compression ratio {total / max(len(data), 1):.0f}:1 (limit {limits.zip_max_ratio:.0f}:1)"
        if facts.zip_bomb:
            facts.open_error = f"refused to unpack: {facts.zip_bomb}"
            return
        if any(i.flag_bits & 0x1 for i in infos):
            facts.encrypted = True
            facts.open_error = "the OFD package is encrypted"
            return
        bad = archive.testzip()
        if bad is not None:
            facts.open_error = f"the OFD package is damaged at {bad}"
            return
        root = ET.fromstring(_read_bounded(archive, "OFD.xml", limits))
        if _local(root.tag) != "OFD":
            facts.open_error = f"OFD.xml's root element is <{_local(root.tag)}>, not <OFD>"
            return
        doc_roots = [el.text.strip().lstrip("/") for el in root.iter() if _local(el.tag) == "DocRoot" and el.text]
        if not doc_roots:
            facts.open_error = "OFD.xml names no document (DocRoot)"
            return
        pages = 0
        for doc in doc_roots:
            document = ET.fromstring(_read_bounded(archive, doc, limits))
            pages += sum(1 for el in document.iter() if _local(el.tag) == "Page")
        facts.page_count = pages
        if pages == 0:
            facts.open_error = "the OFD document has no pages"
            return
    facts.opens = True


def _read_bounded(archive: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limits.xml_max_bytes:
        raise ValueError(f"{name} is {info.file_size} bytes (limit {limits.xml_max_bytes})")
    return archive.read(info)


# --- raster images ---------------------------------------------------------------------------------------


def _inspect_image(data: bytes, facts: FileFacts) -> None:
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
            red_area_mm2=_red_fraction(im) * _area_mm2(im.width, im.height, dpi_value) if colour else 0.0,
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


def _red_fraction(im: Image.Image) -> float:
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


# --- audio and video -------------------------------------------------------------------------------------


def _inspect_media(data: bytes, facts: FileFacts) -> None:
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.wave import WAVE

    reader = {Format.MP3: MP3, Format.WAV: WAVE, Format.MP4: MP4}[facts.format]
    media = reader(io.BytesIO(data))
    length = float(getattr(media.info, "length", 0.0) or 0.0)
    if length <= 0:
        facts.open_error = "the media header reads, but declares no duration"
        return
    facts.media_seconds = length
    facts.opens = True
