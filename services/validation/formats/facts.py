"""What the readers measure in a file's bytes (`FileFacts`), and the bounds they keep to (`Limits`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.validation.formats.identify import Format


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile file from exhausting the worker."""

    zip_max_ratio: float = 100.0  # uncompressed / compressed, for the whole archive
    zip_max_total_bytes: int = 512 * 1024 * 1024
    zip_max_entries: int = 10_000
    xml_max_bytes: int = 16 * 1024 * 1024
    pdf_max_images_for_seal: int = 4


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
