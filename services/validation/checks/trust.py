"""Whose signature it is, and OFD signatures and seals (issue 12).

- `AUTH-SIGNER-TRUSTED`: a PDF signature that verifies and covers the file (AUTH-PDF-SIGNATURE) was made
  with a certificate that chains to one of the platform's trust anchors (CA certificates configured with
  `archivectl platform trust add`). Warn by default — a valid signature from a signer nobody vouched for
  travels on with a warning; an item whose rules require trusted signatures sets
  `severity: {AUTH-SIGNER-TRUSTED: reject}` in item_rules.yaml.
- `AUTH-OFD-SIGNATURE`: the OFD's electronic signatures and seals (Signatures.xml) are complete and the
  files they protect unchanged; their SM2 signed values are not verified here, which the outcome says
  ("present, not verified", a warning) instead of passing.
- `ofd_seal_verdict`: the seal check's verdict for an OFD file, from its electronic seal structure.
- `signature_verdicts`: every signature and OFD seal of a case with its status, for the validated event
  and the package's PREMIS events.
"""

from __future__ import annotations

from contracts.v1 import Property, SignatureStatus, SignatureVerdict
from services.validation.checks.engine import (
    PDF_FILES,
    ZIP_PACKAGES,
    CaseEvidence,
    FileEvidence,
    Finding,
    Severity,
    check,
    fail,
    ok,
    skip,
    warn_only,
)
from services.validation.formats import FileFacts, Format, OfdSealFacts, SignatureFacts
from services.validation.formats.ofd_signatures import NOT_VERIFIED
from services.validation.formats.signatures import covers_the_file
from services.validation.rules import ItemRules

AU = Property.AUTHENTICITY


def _verified(sig: SignatureFacts) -> bool:
    return sig.standard and bool(sig.intact and sig.valid) and covers_the_file(sig) and sig.timestamp != "invalid"


@check(
    "AUTH-SIGNER-TRUSTED",
    AU,
    severity=Severity.WARN,
    examines="A PDF signature that verifies was made with a certificate that chains to a CA the platform "
    "trusts (its trust anchors, `archivectl platform trust`), and its timestamp, if any, comes from a "
    "trusted timestamp authority.",
    examines_zh="验证通过的 PDF 签名，其签名证书可链接到本平台信任的证书机构（信任锚，`archivectl platform trust`）；"
    "签名时间戳（如有）来自受信任的时间戳机构。",
    reason_zh="文件“{file}”的签名有效，但签名人“{signer}”（证书 SHA-256 {fingerprint}）{problem_zh}，"
    "签名人身份未经确认；请由本平台信任的证书机构签发证书后重新签署，或由管理员登记该证书机构。",
    reason_en="the signature of '{file}' is valid, but the signer '{signer}' (certificate SHA-256 {fingerprint}) "
    "{problem}: who signed it is not confirmed. Sign with a certificate from a CA the platform trusts, or "
    "have an administrator add the CA (archivectl platform trust add).",
    basis="DA/T 70-2018 authenticity: electronic signatures verify; GB/T 25064 (PKI for e-government)",
    kinds=PDF_FILES,
    needs_open=True,
)
def signer_trusted(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    verified = [s for s in ev.facts.signatures if _verified(s)]
    if not verified:
        return skip("no PDF signature verified (AUTH-PDF-SIGNATURE decides on the signature itself)")
    for s in verified:
        if not s.trusted or s.timestamp == "untrusted":
            zh, en = (
                ("的证书不在本平台信任的证书机构之下", "does not chain to a CA the platform trusts")
                if not s.trusted
                else ("的签名时间戳来自不受信任的时间戳机构", "has a timestamp from an untrusted authority")
            )
            params = {
                "signer": s.signer or "?",
                "fingerprint": (s.fingerprint_sha256 or "?")[:16] + "…",
                "problem": en,
                "problem_zh": zh,
            }
            return fail(
                params,
                field=s.field_name,
                signer=s.signer or "",
                subject=s.subject or "",
                issuer=s.issuer or "",
                fingerprint_sha256=s.fingerprint_sha256 or "",
                timestamp=s.timestamp or "none",
                anchors=len(case.trust_anchors.certificates),
            )
    first = verified[0]
    return ok(
        signatures=len(verified),
        signer=first.signer or "",
        fingerprint_sha256=first.fingerprint_sha256 or "",
        timestamp=first.timestamp or "none",
    )


@check(
    "AUTH-OFD-SIGNATURE",
    AU,
    examines="The electronic signatures and seals of an OFD (GB/T 38540: Signatures.xml, each Signature.xml, "
    "the seal file and signed value) are complete and every file they protect still has its signed digest "
    "(SM3). Their SM2 signed values are not verified here: such a file is 'present, not verified' (a "
    "warning), never a pass.",
    examines_zh="OFD 的电子签名和电子签章（GB/T 38540：Signatures.xml、各 Signature.xml、印章文件及签名值）完整，"
    "受保护文件的摘要（SM3）与签署时一致。SM2 签名值本系统暂不验证：此类文件记为“存在，未验证”（警告），不记为通过。",
    reason_zh="文件“{file}”的电子签章或签名不完整或验证失败（{problem}），请重新签章后提交。",
    reason_en="the electronic seal or signature of '{file}' is incomplete or does not verify ({problem}); seal "
    "it again and resubmit.",
    basis="DA/T 70-2018 authenticity: electronic signatures verify; GB/T 38540-2020 electronic seals in OFD",
    kinds=ZIP_PACKAGES,
    needs_open=True,
)
def ofd_signature(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    seals = ev.facts.ofd_seals
    if not seals:
        return skip("the OFD carries no electronic signature or seal")
    broken = [s for s in seals if not s.references_ok]
    if broken:
        s = broken[0]
        return fail({"problem": s.note or "incomplete"}, signature_id=s.signature_id, kind=s.kind)
    if all(s.verified for s in seals):
        return ok(signatures=len(seals))
    return warn_only(
        "电子签章/签名存在，受保护文件未被改动，但 SM2 签名值未验证（存在，未验证）。",
        f"{len(seals)} electronic signature(s)/seal(s) {NOT_VERIFIED}; the files they protect are unchanged.",
        signatures=len(seals),
        seals=sum(1 for s in seals if s.seal_present),
        verified="false",
    )


def ofd_seal_verdict(facts: FileFacts) -> Finding:
    """The seal check's verdict on an OFD (seal-red ink means nothing in OFD: its seal is the electronic
    seal structure, `FileFacts.ofd_seals`). No seal: a failure; a seal whose protected files changed:
    AUTH-OFD-SIGNATURE's; a seal present but not verified: a warning that says so, never a pass."""
    seals = [s for s in facts.ofd_seals if s.seal_present]
    if not seals:
        return fail(ofd_seals=0, ofd_signatures=len(facts.ofd_seals))
    if not all(s.references_ok for s in seals):
        return skip("the OFD electronic seal does not verify (AUTH-OFD-SIGNATURE)")
    if all(s.verified for s in seals):
        return ok(ofd_seals=len(seals), verified="true")
    return warn_only(
        "检测到 OFD 电子印章（存在，未验证）。",
        "OFD electronic seal present, not verified (its SM2 signed value is not verified here).",
        ofd_seals=len(seals),
        verified="false",
    )


def _pdf_status(sig: SignatureFacts) -> tuple[SignatureStatus, str]:
    if not sig.signed:
        return SignatureStatus.INVALID, "unsigned signature field"
    if not sig.standard:
        return SignatureStatus.NOT_VERIFIED, f"signature format {sig.sub_filter} is not CMS/PAdES"
    if not (sig.intact and sig.valid):
        return SignatureStatus.INVALID, sig.error or ("signed content altered" if not sig.intact else "bad signature")
    if not covers_the_file(sig):
        return SignatureStatus.MODIFIED, f"changed after signing ({sig.modification_level} modifications)"
    if sig.timestamp == "invalid":
        return SignatureStatus.INVALID, "the signature timestamp does not verify"
    if sig.trusted and sig.timestamp != "untrusted":
        return SignatureStatus.VALID_TRUSTED, "chains to the platform's trust anchors"
    return SignatureStatus.VALID_UNTRUSTED, "valid, but the signer is not under the platform's trust anchors"


def _ofd_status(seal: OfdSealFacts) -> SignatureStatus:
    if not seal.references_ok:
        return SignatureStatus.INVALID
    return SignatureStatus.VALID_UNTRUSTED if seal.verified else SignatureStatus.NOT_VERIFIED


def signature_verdicts(evidence: CaseEvidence) -> list[SignatureVerdict]:
    """Every PDF signature and OFD signature/seal of the case, with its status."""
    out: list[SignatureVerdict] = []
    for ev in evidence.files:
        if ev.facts.format is Format.PDF:
            for sig in ev.facts.signatures:
                status, note = _pdf_status(sig)
                out.append(
                    SignatureVerdict(
                        file_name=ev.file.file_name,
                        field_name=sig.field_name,
                        kind="signature",
                        status=status,
                        signer=sig.signer,
                        subject=sig.subject,
                        fingerprint_sha256=sig.fingerprint_sha256,
                        signed_at=sig.signed_at,
                        timestamp=sig.timestamp,
                        note=note,
                    )
                )
        elif ev.facts.format is Format.OFD:
            for seal in ev.facts.ofd_seals:
                out.append(
                    SignatureVerdict(
                        file_name=ev.file.file_name,
                        field_name=seal.signature_id,
                        kind="seal" if seal.kind == "Seal" else "signature",
                        status=_ofd_status(seal),
                        signer=seal.seal_name or seal.signer,
                        note=seal.note,
                    )
                )
    return out
