"""Signed sample PDFs: a self-made certificate authority ("approval-archive samples CA") that issues a
signer certificate, a self-signed signer nobody trusts, signing with pyHanko, and the incremental update
that changes a signed file afterwards (new page content appended) — the defects of issue 12.

Keys are derived from fixed numbers and the CA signs with Ed25519, so every run produces the same CA
certificate (and the CA's
fingerprint can be configured once as a platform's trust anchor: `archivectl platform trust add`).
These keys are public test material: never trust the samples CA outside tests.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from typing import Any

_VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_VALID_TO = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "approval-archive samples"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(subject: Any, issuer: Any, public_key: Any, signing_key: Any, serial: int, *, ca: bool) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(_VALID_FROM)
        .not_valid_after(_VALID_TO)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    from cryptography.hazmat.primitives.asymmetric import ed25519

    # Ed25519 signatures are deterministic: the CA certificate (and its fingerprint) is the same every run.
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.add_extension(usage, critical=True).sign(signing_key, algorithm)


@cache
def _ca() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.from_private_bytes((20261201).to_bytes(32, "big"))
    name = _name("approval-archive samples CA（测试）")
    return key, _certificate(name, name, key.public_key(), key, 20261201, ca=True)


@cache
def _signers() -> dict[str, tuple[Any, Any]]:
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key, ca_cert = _ca()
    issued_key = ec.derive_private_key(20261202, ec.SECP256R1())
    issued = _certificate(
        _name("交通运输局 电子签章（测试）"), ca_cert.subject, issued_key.public_key(), ca_key, 20261202, ca=False
    )
    own_key = ec.derive_private_key(20261125, ec.SECP256R1())
    own_name = _name("自签名 电子签章（测试）")
    self_signed = _certificate(own_name, own_name, own_key.public_key(), own_key, 20261125, ca=True)
    return {"ca-issued": (issued_key, issued), "self-signed": (own_key, self_signed)}


def sample_ca_pem() -> bytes:
    """The samples CA certificate (PEM): the trust anchor the sample platforms are configured with."""
    from cryptography.hazmat.primitives import serialization

    return _ca()[1].public_bytes(serialization.Encoding.PEM)


def sample_ca_der() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return _ca()[1].public_bytes(serialization.Encoding.DER)


def signed_pdf(pdf: bytes, *, signer: str = "ca-issued") -> bytes:
    """The PDF signed (PAdES, adbe.pkcs7.detached) by pyHanko: `ca-issued` — by a certificate the samples
    CA issued; `self-signed` — by a self-signed certificate no platform trusts."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key, cert = _signers()[signer]
    chain = [asn1_x509.Certificate.load(_ca()[1].public_bytes(serialization.Encoding.DER))]
    pdf_signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(chain if signer == "ca-issued" else []),
    )
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        signers.PdfSignatureMetadata(field_name="Signature1", reason="approval-archive test"),
        signer=pdf_signer,
        output=out,
    )
    return out.getvalue()


def append_page_content(signed: bytes, text: str = "APPROVED 已批准") -> bytes:
    """An incremental update after the signature that adds a content stream to the first page — the
    signed bytes stay intact, but what the page shows is no longer what was signed."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    escaped = text.encode("ascii", "replace").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (" + escaped + b") Tj ET")
    added = writer.add_object(stream)
    contents = page.get("/Contents")
    kept = list(contents) if isinstance(contents, generic.ArrayObject) else [page.raw_get("/Contents")]
    page["/Contents"] = generic.ArrayObject([*kept, added])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_OFD_NS = "http://www.ofdspec.org/2016"


def sealed_ofd(ofd: bytes, *, seal_name: str = "交通运输局行政审批专用章（测试）") -> bytes:
    """The OFD with one electronic seal (GB/T 38540 structure): OFD.xml's DocBody names
    Doc_0/Signs/Signatures.xml, whose Signature (Type Seal) protects Document.xml and every page by their
    SM3 digests and carries a seal file (.esl) and a signed value. The seal file and signed value are
    placeholders, not real SES structures: the archive does not verify the SM2 value (docs/validation.md)."""
    import base64
    import hashlib
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(ofd))
    members = {n: src.read(n) for n in src.namelist()}
    protected = sorted(n for n in members if n.startswith("Doc_0/") and n.endswith(".xml"))
    refs = "".join(
        f'<ofd:Reference FileRef="/{n}"><ofd:CheckValue>'
        f"{base64.b64encode(hashlib.new('sm3', members[n]).digest()).decode()}</ofd:CheckValue></ofd:Reference>"
        for n in protected
    )
    members["OFD.xml"] = members["OFD.xml"].replace(
        b"</ofd:DocRoot>", b"</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>"
    )
    members["Doc_0/Signs/Signatures.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="{_OFD_NS}"><ofd:MaxSignId>1'
        '</ofd:MaxSignId><ofd:Signature ID="1" Type="Seal" BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"/>'
        "</ofd:Signatures>"
    ).encode()
    members["Doc_0/Signs/Sign_0/Signature.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signature xmlns:ofd="{_OFD_NS}"><ofd:SignedInfo>'
        '<ofd:Provider ProviderName="approval-archive samples" Version="1.0"/>'
        "<ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>"
        "<ofd:SignatureDateTime>20261201120000Z</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="1.2.156.10197.1.401">{refs}</ofd:References>'
        '<ofd:StampAnnot ID="1" PageRef="2" Boundary="120 200 42 42"/>'
        "<ofd:Seal><ofd:BaseLoc>Seal.esl</ofd:BaseLoc></ofd:Seal></ofd:SignedInfo>"
        "<ofd:SignedValue>/Doc_0/Signs/Sign_0/SignedValue.dat</ofd:SignedValue></ofd:Signature>"
    ).encode()
    members["Doc_0/Signs/Sign_0/Seal.esl"] = b"SES_Seal placeholder: " + seal_name.encode()
    members["Doc_0/Signs/Sign_0/SignedValue.dat"] = b"SES_Signature placeholder"
    return _zip(members)


def change_ofd_page(ofd: bytes) -> bytes:
    """The first page's content changed after sealing (its SM3 no longer matches the seal's Reference)."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(ofd))
    members = {n: src.read(n) for n in src.namelist()}
    page = next(n for n in sorted(members) if n.endswith("Content.xml"))
    members[page] = members[page].replace(
        b"<ofd:Layer ID='1'/>", b"<ofd:Layer ID='1'><ofd:TextObject ID='9'/></ofd:Layer>"
    )
    return _zip(members)


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def declare_pdfa(pdf: bytes, part: int = 1, conformance: str = "B") -> bytes:
    """The PDF with XMP metadata that declares PDF/A-<part><conformance> (pdfaid), and nothing else made
    conforming (no embedded fonts, no output intent): what a platform's "save as PDF/A" claims when it lies."""
    import pypdf
    from pypdf.generic import DecodedStreamObject, NameObject

    xmp = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        f'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="{part}" pdfaid:conformance="{conformance}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    meta = DecodedStreamObject()
    meta.set_data(xmp)
    meta.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    writer._root_object[NameObject("/Metadata")] = writer._add_object(meta)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
