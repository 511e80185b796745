"""OFD (GB/T 33190): a zip package whose root OFD.xml points at the documents. Unpacked only within the
limits, so a zip bomb is refused unopened."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

from services.validation.formats.facts import FileFacts, Limits


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def inspect_ofd(data: bytes, facts: FileFacts, limits: Limits) -> None:
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
