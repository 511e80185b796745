"""Formats by PRONOM (The National Archives' registry, the identifiers PREMIS records): FIDO (`opf-fido`),
run in this process with the PRONOM signatures that ship inside the package — no download, no
subprocess. FIDO matches its signatures against the head and the tail of a file, so only those are
read (`HEAD_TAIL_BYTES` each), however large the file.

The signatures are compiled once per process (a few seconds) and FIDO keeps per-call state, so calls are
serialised with a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from services.validation.formats.source import Source

HEAD_TAIL_BYTES = 64 * 1024
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Pronom:
    puid: str  # e.g. fmt/18
    name: str  # e.g. "Acrobat PDF 1.4 - Portable Document Format"
    version: str | None = None


@cache
def _fido() -> Any:
    from fido.fido import Fido
    from fido.versions import get_local_versions

    versions = get_local_versions()
    return Fido(
        quiet=True,
        bufsize=HEAD_TAIL_BYTES,
        handle_matches=lambda *args: None,
        format_files=[versions.pronom_signature, versions.fido_extension_signature],
    )


def signature_file() -> str:
    """The PRONOM signature release FIDO uses (for the record)."""
    from fido.versions import get_local_versions

    return str(get_local_versions().pronom_signature)


def identify_pronom(data: bytes | Source) -> Pronom | None:
    """The most specific PRONOM format FIDO's signatures match, or None where none matches."""
    source = Source.of(data)
    if source.size == 0:
        return None
    head, tail = source.head(HEAD_TAIL_BYTES), source.tail(HEAD_TAIL_BYTES)
    fido = _fido()
    with _LOCK:
        matches = fido.match_formats(head, tail)
        if not matches:
            return None
        fmt = matches[0][0]
        return Pronom(str(fido.get_puid(fmt)), fmt.findtext("name") or "", fmt.findtext("version") or None)
