"""OFD electronic seals and signatures (GB/T 33190 §18, GB/T 38540): a document's DocBody names its
`Signatures.xml`, which lists each `Signature` (Type `Seal` — 电子签章 — or `Sign`) by the location of
its `Signature.xml`. That file's `SignedInfo` lists the files it protects (`References`, each with the
digest of the file, `CheckMethod` SM3 by default) and the seal file (`Seal/BaseLoc`, a `.esl` SES_Seal);
`SignedValue` locates the signed value (an SES_Signature, GM/T 0031, for seals).

What is verified here: that every signature and seal named exists, that every protected file still has
the digest recorded when it was signed (a file changed after sealing fails), and that a seal carries its
seal file or signed value. What is not: the SM2 signature inside the SES_Signature over the signed
information and the signer's certificate — no maintained Python library parses GM/T 0031 SES structures
(gmssl offers the SM2 primitive only), so `verified` is None and the check says "present, not verified",
never "verified" (docs/validation.md).
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable

from services.validation.formats.facts import OfdSealFacts

# CheckMethod values (GB/T 38540 lets a signer name the digest by OID or by name); default SM3.
_DIGESTS: dict[str, str] = {
    "1.2.156.10197.1.401": "sm3",
    "sm3": "sm3",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "sha256": "sha256",
    "sha-256": "sha256",
    "1.3.14.3.2.26": "sha1",
    "sha1": "sha1",
}
NOT_VERIFIED = "present, not verified: the SM2 signed value (GM/T 0031 SES_Signature) is not verified here"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def resolve(base_file: str, location: str) -> str:
    """An OFD location: absolute from the package root when it starts with '/', else relative to the
    directory of the file that names it."""
    location = location.strip()
    if location.startswith("/"):
        return posixpath.normpath(location.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_file), location))


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el.iter() if _local(c.tag) == name]


def read_ofd_signatures(
    archive: zipfile.ZipFile, signatures_file: str, read: Callable[[str], bytes]
) -> list[OfdSealFacts]:
    """The signatures listed in `signatures_file` (a DocBody's Signatures), each checked; `read` reads a
    member within the package's limits."""
    names = set(archive.namelist())
    root = ET.fromstring(read(signatures_file))
    found: list[OfdSealFacts] = []
    for entry in _children(root, "Signature"):
        sig_id = entry.get("ID") or "?"
        kind = entry.get("Type") or "Seal"  # GB/T 33190: Seal is the default type
        location = resolve(signatures_file, entry.get("BaseLoc") or "")
        if location not in names:
            found.append(OfdSealFacts(sig_id, kind, False, False, None, note=f"{location} is missing"))
            continue
        found.append(_signature(sig_id, kind, location, names, read))
    return found


def _signature(sig_id: str, kind: str, location: str, names: set[str], read: Callable[[str], bytes]) -> OfdSealFacts:
    sig = ET.fromstring(read(location))
    signed_info = next(iter(_children(sig, "SignedInfo")), None)
    if signed_info is None:
        return OfdSealFacts(sig_id, kind, False, False, None, note=f"{location} has no SignedInfo")
    references = _children(signed_info, "References")
    method = (references[0].get("CheckMethod") if references else None) or "sm3"
    algorithm = _DIGESTS.get(method.strip().lower())
    problems: list[str] = []
    if algorithm is None:
        problems.append(f"unknown CheckMethod {method}")
    refs = _children(signed_info, "Reference")
    if not refs:
        problems.append("it protects no file (no Reference)")
    for ref in refs:
        target = resolve(location, ref.get("FileRef") or "")
        value = "".join(el.text or "" for el in _children(ref, "CheckValue")).strip()
        if target not in names:
            problems.append(f"{target} is missing")
        elif algorithm and base64.b64decode(value, validate=False) != hashlib.new(algorithm, read(target)).digest():
            problems.append(f"{target} changed after signing")
    seal_locs = [
        resolve(location, el.text or "")
        for seal in _children(signed_info, "Seal")
        for el in _children(seal, "BaseLoc")
        if el.text
    ]
    value_locs = [resolve(location, el.text or "") for el in _children(sig, "SignedValue") if el.text]
    seal_file = next((s for s in seal_locs if s in names and read(s)), None)
    signed_value = next((v for v in value_locs if v in names and read(v)), None)
    if signed_value is None:
        problems.append("the signed value (SignedValue) is missing")
    # A seal's SES_Signature carries the seal itself; a separate .esl is optional (GB/T 38540).
    seal_present = kind == "Seal" and (seal_file is not None or signed_value is not None)
    seal_name = posixpath.basename(seal_file) if seal_file else None
    provider = next(iter(_children(signed_info, "Provider")), None)
    signer = provider.get("ProviderName") if provider is not None else None
    return OfdSealFacts(
        signature_id=sig_id,
        kind=kind,
        seal_present=seal_present,
        references_ok=not problems,
        verified=None,
        seal_name=seal_name,
        signer=signer,
        note="; ".join(problems) if problems else NOT_VERIFIED,
    )
