"""What the readers measure in a file's bytes (`FileFacts`), and the bounds they keep to (`Limits`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.validation.formats.identify import Format
from services.validation.formats.seals import SealShape


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile file from exhausting the worker."""

    zip_max_ratio: float = 100.0  # uncompressed / compressed, for the whole archive
    zip_max_total_bytes: int = 512 * 1024 * 1024
    zip_max_entries: int = 10_000
    xml_max_bytes: int = 16 * 1024 * 1024
    pdf_max_images_decoded: int = 24  # page images decoded for blur, colour and seals, spread over the document
    # An image file over this many pixels (width x height, from its header) is refused before any decoding
    # (USAB-OPENS): 200 million is an A0 page at 600 dpi. Pillow's own guard only warns below twice its limit.
    image_max_pixels: int = 200_000_000
    # Decode every image at full size instead of the reduced decode (formats/page_images.py): only the
    # verdict-equality test uses it, to compare the two.
    full_decode: bool = False


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
    signer: str | None = None  # the signer certificate's common name
    error: str | None = None
    # pyHanko's difference analysis (formats/signatures.py): how far the file reaches beyond the signature
    coverage: str | None = None  # SignatureCoverageLevel: ENTIRE_FILE, ENTIRE_REVISION, ...
    modification_level: str | None = None  # ModificationLevel of the later revisions: NONE ... OTHER
    docmdp_ok: bool | None = None  # the later revisions respect the signer's DocMDP/FieldMDP lock
    subject: str | None = None  # the signer certificate's subject, issuer and SHA-256 of its DER
    issuer: str | None = None
    fingerprint_sha256: str | None = None
    signed_at: str | None = None  # the signing time the signer claims (ISO 8601)
    timestamp: str | None = None  # none | valid | untrusted | invalid (the signature timestamp token)
    timestamp_at: str | None = None


@dataclass(frozen=True)
class PdfaReport:
    """What veraPDF (services/validation/adapters/verapdf.py) found for a PDF that declares PDF/A."""

    flavour: str  # the PDF/A part and level validated against, as veraPDF names it: 1b, 2b, 2u, 3a, ...
    compliant: bool | None  # None: veraPDF could not decide (see error)
    failed_checks: int = 0
    failed_rules: tuple[str, ...] = ()  # ISO 19005 clause-test numbers, the first 20
    error: str | None = None


@dataclass(frozen=True)
class OfdSealFacts:
    """One electronic seal or signature of an OFD (GB/T 38540: Signatures.xml → Signature.xml → the seal
    .esl and the signed value), as formats/ofd_signatures.py found and verified it."""

    signature_id: str
    kind: str  # "Seal" (电子印章签章) or "Sign" (电子签名)
    seal_present: bool  # a seal file (.esl, SES_Seal) is referenced and readable
    references_ok: bool | None  # every file the signature references hashes to its recorded digest
    verified: bool | None  # the signed value verifies (SM2) — None: no maintained library could verify it
    seal_name: str | None = None
    signer: str | None = None
    note: str | None = None  # why it is not verified, or what failed


@dataclass(frozen=True)
class ImageFacts:
    """A scanned page: an image file, or an image covering most of a PDF/OFD page (formats/page_images.py).
    `colour`, `sharpness` and `chroma` are None for a page beyond the decoding budget."""

    width: int
    height: int
    mode: str
    dpi: float | None  # image file: the smaller recorded resolution (None: none recorded); page: effective dpi
    colour: bool | None  # the content carries colour (chroma), whatever the mode says
    sharpness: float | None  # 90th percentile of the Laplacian's variance over content tiles
    chroma: float | None = None  # 99th percentile of the distance from grey (YCbCr)
    seals: tuple[SealShape, ...] = ()  # seal shapes found on it
    page: int | None = None  # 1-based page of the document it is drawn on


@dataclass
class FileFacts:
    format: Format
    size: int
    puid: str | None = None  # PRONOM identifier (FIDO); None where PRONOM has none (OFD) or none matched
    pronom_name: str | None = None
    opens: bool = False
    open_error: str | None = None
    encrypted: bool = False
    zip_bomb: str | None = None
    page_count: int | None = None
    active_content: list[str] = field(default_factory=list)
    signatures: list[SignatureFacts] = field(default_factory=list)
    image: ImageFacts | None = None
    # Documents (PDF, OFD): the scanned pages drawn in them, seal shapes found anywhere (vector or in the
    # images), and whether the vector content paints anything in colour.
    page_images: list[ImageFacts] = field(default_factory=list)
    images_not_decoded: int = 0  # embedded images beyond the decoding budget
    seals: list[SealShape] = field(default_factory=list)
    vector_colour: bool = False
    media_seconds: float | None = None
    pdfa_declared: str | None = None  # the PDF/A identification in the PDF's XMP (pdfaid:part+conformance)
    # OFD electronic seals and signatures (Signatures.xml). The seal check (INTEG-SEAL-*) reads these as
    # its evidence for OFD files: a seal present here is an OFD electronic seal, verified or not.
    ofd_seals: list[OfdSealFacts] = field(default_factory=list)
