"""OFD (GB/T 33190): a zip package whose root OFD.xml points at the documents, their pages and their
electronic seals and signatures. Unpacked only within the limits, so a zip bomb is refused unopened. The
images drawn on its pages (ImageObject → MultiMedia in the document's resources) are measured as scans
(formats/page_images.py): OFD coordinates are millimetres, so the effective resolution is the image's
pixels over its Boundary; its colour content (FillColor / StrokeColor values) is noted for the colour
check."""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, replace
from functools import partial

from PIL import Image

from services.validation.formats.facts import FileFacts, Limits
from services.validation.formats.ofd_signatures import read_ofd_signatures, resolve
from services.validation.formats.page_images import (
    SCAN_MIN_PAGE_FRACTION,
    decode_reduced,
    measure_scan,
    spread,
    unmeasured_scan,
)
from services.validation.formats.seals import raster_seals
from services.validation.formats.signatures import NO_ANCHORS, TrustAnchors
from services.validation.formats.source import Source


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def inspect_ofd(source: Source, facts: FileFacts, limits: Limits, trust: TrustAnchors = NO_ANCHORS) -> None:
    """OFD.xml → each DocBody → its Document.xml → the Pages (every page file must exist) and its
    Signatures (formats/ofd_signatures.py). `trust` is reserved for OFD signer certificates (not yet
    chained: see ofd_signatures)."""
    with source.open() as fh, zipfile.ZipFile(fh) as archive:
        infos = archive.infolist()
        total = sum(i.file_size for i in infos)
        if len(infos) > limits.zip_max_entries:
            facts.zip_bomb = f"{len(infos)} entries (limit {limits.zip_max_entries})"
        elif total > limits.zip_max_total_bytes:
            facts.zip_bomb = f"{total} bytes uncompressed (limit {limits.zip_max_total_bytes})"
        elif (ratio := total / max(source.size, 1)) > limits.zip_max_ratio:
            facts.zip_bomb = f"compression ratio {ratio:.0f}:1 (limit {limits.zip_max_ratio:.0f}:1)"
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
        read = partial(_read_bounded, archive, limits=limits)
        root = ET.fromstring(read("OFD.xml"))
        if _local(root.tag) != "OFD":
            facts.open_error = f"OFD.xml's root element is <{_local(root.tag)}>, not <OFD>"
            return
        bodies = [el for el in root if _local(el.tag) == "DocBody"]
        doc_roots = [_text(body, "DocRoot") for body in bodies]
        if not bodies or not all(doc_roots):
            facts.open_error = "OFD.xml names no document (DocBody/DocRoot)"
            return
        names = set(archive.namelist())
        pages = 0
        placed: list[_PlacedImage] = []
        for body, doc in zip(bodies, doc_roots, strict=True):
            document_file = resolve("OFD.xml", doc or "")
            if document_file not in names:
                facts.open_error = f"the document {document_file} named in OFD.xml is missing"
                return
            document = ET.fromstring(read(document_file))
            page_files = [
                resolve(document_file, el.get("BaseLoc") or "") for el in document.iter() if _local(el.tag) == "Page"
            ]
            missing = [p for p in page_files if p not in names]
            if missing:
                facts.open_error = f"page {missing[0]} named in {document_file} is missing"
                return
            placed += _page_images(archive, document_file, document, limits, facts, first_page=pages)
            pages += len(page_files)
            signatures = _text(body, "Signatures")
            if signatures:
                signatures_file = resolve("OFD.xml", signatures)
                if signatures_file not in names:
                    facts.open_error = f"the signature list {signatures_file} named in OFD.xml is missing"
                    return
                facts.ofd_seals.extend(read_ofd_signatures(archive, signatures_file, read))
        facts.page_count = pages
        if pages == 0:
            facts.open_error = "the OFD document has no pages"
            return
        _measure(archive, placed, facts, limits)
    facts.opens = True


def _text(parent: ET.Element, name: str) -> str | None:
    child = next((el for el in parent if _local(el.tag) == name), None)
    return child.text.strip() if child is not None and child.text else None


def _read_bounded(archive: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limits.xml_max_bytes:
        raise ValueError(f"{name} is {info.file_size} bytes (limit {limits.xml_max_bytes})")
    return archive.read(info)


@dataclass(frozen=True)
class _PlacedImage:
    page: int
    member: str  # the image's path inside the package
    width_mm: float
    height_mm: float
    page_fraction: float


def _resolve(base_dir: str, loc: str) -> str:
    loc = loc.strip()
    return loc.lstrip("/") if loc.startswith("/") else posixpath.normpath(posixpath.join(base_dir, loc))


def _media_files(archive: zipfile.ZipFile, doc_dir: str, document: ET.Element, limits: Limits) -> dict[str, str]:
    """MultiMedia ID → package path, from the document's PublicRes and DocumentRes files."""
    out: dict[str, str] = {}
    for el in document.iter():
        if _local(el.tag) not in ("PublicRes", "DocumentRes") or not el.text:
            continue
        res_path = _resolve(doc_dir, el.text)
        if res_path not in archive.namelist():
            continue
        res = ET.fromstring(_read_bounded(archive, res_path, limits))
        base = _resolve(posixpath.dirname(res_path), res.get("BaseLoc", ""))
        for media in res.iter():
            if _local(media.tag) != "MultiMedia":
                continue
            file = next((c.text for c in media if _local(c.tag) == "MediaFile" and c.text), None)
            if file and media.get("ID"):
                out[media.get("ID", "")] = _resolve(base, file)
    return out


def _numbers(text: str | None) -> list[float]:
    try:
        return [float(v) for v in (text or "").split()]
    except ValueError:
        return []


def _page_images(
    archive: zipfile.ZipFile, doc: str, document: ET.Element, limits: Limits, facts: FileFacts, first_page: int
) -> list[_PlacedImage]:
    """The images each page draws, with their size on the page; notes colour in the vector content."""
    doc_dir = posixpath.dirname(doc)
    media = _media_files(archive, doc_dir, document, limits)
    default_box = next((_numbers(el.text) for el in document.iter() if _local(el.tag) == "PhysicalBox"), [])
    placed = []
    page_els = [el for el in document.iter() if _local(el.tag) == "Page"]
    for number, page_el in enumerate(page_els, start=first_page + 1):
        path = _resolve(doc_dir, page_el.get("BaseLoc", ""))
        if path not in archive.namelist():
            continue
        content = ET.fromstring(_read_bounded(archive, path, limits))
        box = next((_numbers(el.text) for el in content.iter() if _local(el.tag) == "PhysicalBox"), default_box)
        page_area = box[2] * box[3] if len(box) == 4 else 210.0 * 297.0
        for el in content.iter():
            if _local(el.tag) in ("FillColor", "StrokeColor"):
                value = _numbers(el.get("Value"))
                facts.vector_colour |= len(value) == 3 and max(value) - min(value) > 15  # 0-255 per channel
            if _local(el.tag) != "ImageObject" or el.get("ResourceID") not in media:
                continue
            boundary = _numbers(el.get("Boundary"))
            ctm = _numbers(el.get("CTM"))
            if len(ctm) == 6:
                w, h = (ctm[0] ** 2 + ctm[1] ** 2) ** 0.5, (ctm[2] ** 2 + ctm[3] ** 2) ** 0.5
            elif len(boundary) == 4:
                w, h = boundary[2], boundary[3]
            else:
                continue
            if w > 0 and h > 0:
                member = media[el.get("ResourceID", "")]
                placed.append(_PlacedImage(number, member, w, h, min(1.0, w * h / max(page_area, 1.0))))
    return placed


def _measure(archive: zipfile.ZipFile, placed: list[_PlacedImage], facts: FileFacts, limits: Limits) -> None:
    chosen = spread(len(placed), limits.pdf_max_images_decoded)
    for i, image in enumerate(placed):
        scan = image.page_fraction >= SCAN_MIN_PAGE_FRACTION
        if image.member not in archive.namelist():
            continue
        info = archive.getinfo(image.member)
        with Image.open(archive.open(info)) as im:
            dpi = min(im.width / (image.width_mm / 25.4), im.height / (image.height_mm / 25.4))
            if i not in chosen:
                facts.images_not_decoded += 1
                if scan:
                    facts.page_images.append(unmeasured_scan(im.width, im.height, round(dpi, 1), image.page))
                continue
            copy, scale = decode_reduced(im, dpi, full=limits.full_decode)
            if scan:
                measured = measure_scan(copy, dpi / scale, page=image.page, scale=scale)
                # Report the resolution the page really has, not that of the reduced copy.
                facts.page_images.append(replace(measured, dpi=round(dpi, 1)))
                facts.seals.extend(measured.seals)
            else:
                facts.seals.extend(raster_seals(copy, dpi / scale / 25.4, image.page))
