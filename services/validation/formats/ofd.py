"""OFD (GB/T 33190): a zip package whose root OFD.xml points at the documents, their pages and their
electronic seals and signatures. Unpacked only within the
limits, so a zip bomb is refused unopened."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from functools import partial

from services.validation.formats.facts import FileFacts, Limits
from services.validation.formats.ofd_signatures import read_ofd_signatures, resolve
from services.validation.formats.signatures import NO_ANCHORS, TrustAnchors


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def inspect_ofd(data: bytes, facts: FileFacts, limits: Limits, trust: TrustAnchors = NO_ANCHORS) -> None:
    """OFD.xml → each DocBody → its Document.xml → the Pages (every page file must exist) and its
    Signatures (formats/ofd_signatures.py). `trust` is reserved for OFD signer certificates (not yet
    chained: see ofd_signatures)."""
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
    facts.opens = True


def _text(parent: ET.Element, name: str) -> str | None:
    child = next((el for el in parent if _local(el.tag) == name), None)
    return child.text.strip() if child is not None and child.text else None


def _read_bounded(archive: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limits.xml_max_bytes:
        raise ValueError(f"{name} is {info.file_size} bytes (limit {limits.xml_max_bytes})")
    return archive.read(info)
