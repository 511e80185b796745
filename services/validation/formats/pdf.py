"""PDF: parses with pypdf, counts pages, finds encryption, active content and red (seal) shapes, and
verifies CMS/PAdES signatures with pyHanko (formats/signatures.py)."""

from __future__ import annotations

import io
import re
import warnings

from services.validation.formats.facts import FileFacts, Limits, SignatureFacts
from services.validation.formats.image import red_fraction
from services.validation.formats.signatures import NO_ANCHORS, TrustAnchors, verify_pdf_signatures

_STANDARD_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/adbe.pkcs7.sha1", "/ETSI.RFC3161"}


def inspect_pdf(data: bytes, facts: FileFacts, limits: Limits, trust: TrustAnchors = NO_ANCHORS) -> None:
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
                    fraction = red_fraction(pil)
                    facts.red_raster_area_mm2 += fraction * w_mm * h_mm
        facts.pdfa_declared = _pdfa_identification(reader)
        facts.active_content = _pdf_active_content(reader, data)
        facts.signatures = _pdf_signatures(reader, data, trust)
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


def _pdf_signatures(reader, data: bytes, trust: TrustAnchors) -> list[SignatureFacts]:  # type: ignore[no-untyped-def]
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
        out = verify_pdf_signatures(data, out, trust)
    return out


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
