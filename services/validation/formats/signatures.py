"""Electronic signatures in PDF files, verified with pyHanko: the signed bytes are intact, the CMS
signature matches the signer's certificate, the signature covers the file — every revision added after
it is one a signing workflow legitimately adds — its timestamp (if any) verifies, and whether the
signer's certificate chains to one of the platform's trust anchors.

What counts as "covers the file" is pyHanko's difference analysis (pyhanko.sign.diff_analysis): each
incremental update after a signature is classified by the `ModificationLevel` it needs. Accepted:

- `NONE` — nothing after the signature;
- `LTA_UPDATES` — validation data (DSS) and document timestamps, as PAdES-LTV / LTA add;
- `FORM_FILLING` — filling form fields, which includes later signatures in empty signature fields
  (a second approver signing) and their appearances.

Refused: `ANNOTATIONS` (comments, stamps and drawings laid over signed pages change what a reader sees)
and `OTHER` (page content, pages, anything else). A DocMDP/FieldMDP lock the signer set is honoured too:
pyHanko's `docmdp_ok` false fails even at an accepted level.

Pure: bytes and trust anchors in, `SignatureFacts` out.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from services.validation.formats.facts import SignatureFacts
from services.validation.formats.source import Source

# The levels of pyhanko.sign.diff_analysis.ModificationLevel after a signature that still leave it
# covering the file (see the module's docstring).
ACCEPTED_MODIFICATIONS = frozenset({"NONE", "LTA_UPDATES", "FORM_FILLING"})


def covers_the_file(sig: SignatureFacts) -> bool:
    """The signature covers its revision and what follows is only what a signing workflow adds."""
    return (
        sig.coverage in ("ENTIRE_FILE", "ENTIRE_REVISION")
        and sig.modification_level in ACCEPTED_MODIFICATIONS
        and sig.docmdp_ok is not False
    )


@dataclass(frozen=True)
class TrustAnchors:
    """The CA certificates (DER) under which a platform's signatures are trusted; empty: none configured,
    so every signer is untrusted (the trust check warns, or rejects where the item requires trust)."""

    platform: str = ""
    certificates: tuple[bytes, ...] = ()


NO_ANCHORS = TrustAnchors()


def certificate_sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def verify_pdf_signatures(
    data: bytes | Source, found: list[SignatureFacts], trust: TrustAnchors
) -> list[SignatureFacts]:
    """`found` are the /Sig fields pypdf listed; the standard (CMS/PAdES) ones come back verified."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    # An untrusted chain is an expected answer here, not an error worth a traceback in the log.
    logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)
    # A file changed after signing is an answer too (modification_level OTHER), logged there as an error.
    logging.getLogger("pyhanko.sign.diff_analysis").setLevel(logging.CRITICAL)
    verified: dict[str, SignatureFacts] = {}
    try:
        with Source.of(data).open() as fh:  # pyHanko reads the signed byte ranges from the handle
            reader = PdfFileReader(fh, strict=False)
            for embedded in reader.embedded_signatures:
                verified[embedded.field_name] = _verify_one(embedded, trust)
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


def _validation_context(trust: TrustAnchors):  # type: ignore[no-untyped-def]
    from asn1crypto import x509
    from pyhanko_certvalidator import ValidationContext

    roots = [x509.Certificate.load(der) for der in trust.certificates]
    # Offline: no OCSP/CRL fetching from a validation worker; revocation is soft-fail without data.
    return ValidationContext(trust_roots=roots, allow_fetching=False)


def _verify_one(embedded, trust: TrustAnchors) -> SignatureFacts:  # type: ignore[no-untyped-def]
    from pyhanko.sign.validation import validate_pdf_signature

    sub_filter = str(embedded.sig_object.get("/SubFilter"))
    try:
        status = validate_pdf_signature(
            embedded,
            signer_validation_context=_validation_context(trust),
            ts_validation_context=_validation_context(trust),
        )
    except Exception as exc:
        return SignatureFacts(
            field_name=embedded.field_name,
            signed=True,
            sub_filter=sub_filter,
            standard=True,
            intact=False,
            valid=False,
            error=f"{type(exc).__name__}: {str(exc)[:200]}",
        )
    cert = status.signing_cert
    level = status.modification_level.name if status.modification_level is not None else None
    coverage = status.coverage.name if status.coverage is not None else None
    return SignatureFacts(
        field_name=embedded.field_name,
        signed=True,
        sub_filter=sub_filter,
        standard=True,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=coverage == "ENTIRE_FILE",
        signer=_common_name(cert) if cert is not None else None,
        coverage=coverage,
        modification_level=level,
        docmdp_ok=status.docmdp_ok,
        subject=cert.subject.human_friendly if cert is not None else None,
        issuer=cert.issuer.human_friendly if cert is not None else None,
        fingerprint_sha256=certificate_sha256(cert.dump()) if cert is not None else None,
        signed_at=_iso(status.signer_reported_dt),
        timestamp=_timestamp_verdict(status.timestamp_validity),
        timestamp_at=_iso(status.timestamp_validity.timestamp) if status.timestamp_validity else None,
        error=f"{status.diff_result!s:.300}" if isinstance(status.diff_result, Exception) else None,
    )


def _common_name(cert) -> str:  # type: ignore[no-untyped-def]
    native = cert.subject.native
    return str(native.get("common_name") or cert.subject.human_friendly)


def _iso(moment) -> str | None:  # type: ignore[no-untyped-def]
    return moment.isoformat() if moment is not None else None


def _timestamp_verdict(ts) -> str:  # type: ignore[no-untyped-def]
    """`none` (no signature timestamp), `invalid` (the token does not verify or does not match the
    signature), `untrusted` (verifies, but the TSA is not under the platform's anchors), `valid`."""
    if ts is None:
        return "none"
    if not (ts.intact and ts.valid):
        return "invalid"
    return "valid" if ts.trusted else "untrusted"
