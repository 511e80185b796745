"""Data models of the version-1 events, one per topic. Files never ride on Kafka past capture: later
events carry object-store references and digests (claim-check)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import CloudEvent
from contracts.v1.record import (
    CaseIdentity,
    CaseMetadata,
    RetentionPeriod,
    Sha256Hex,
    Stage,
    UnifiedApprovalRecord,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectRef(_Frozen):
    bucket: str
    key: str


class CapturedFile(_Frozen):
    """A material as captured: what the platform declared beside what the archive actually received."""

    stage: Stage
    material_name: str
    file_name: str = Field(description="Neutralised name, safe as a path component.")
    original_file_name: str = Field(description="The name exactly as the platform sent it.")
    media_type: str
    declared_size: int | None = Field(default=None, description="None: the platform declared no size.")
    declared_sha256: Sha256Hex | None = Field(default=None, description="None: the platform declared no digest.")
    declared_page_count: int | None = None
    declared_sm3: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="SM3 the platform declared (Material.sm3), if any."
    )
    size: int = Field(description="Bytes actually captured.")
    sha256: Sha256Hex = Field(description="SHA-256 computed at capture.")
    sm3: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="SM3 (GB/T 32905) computed at capture."
    )
    stored: ObjectRef = Field(description="Where capture put the original, in the staging bucket.")


class CapturedCase(_Frozen):
    """`archive.captured.v1`: the unified metadata and the captured files of one case revision."""

    case: CaseMetadata
    files: list[CapturedFile]
    source_event_id: str = Field(description="Id of the approval.completed event this came from.")
    source_event: ObjectRef | None = Field(
        default=None, description="The platform's event exactly as received, kept beside the unified record."
    )
    source_dialect: str | None = Field(default=None, description="The dialect the platform's event was mapped from.")
    captured_at: datetime


class Property(StrEnum):
    """The four properties of DA/T 70-2018."""

    AUTHENTICITY = "authenticity"
    INTEGRITY = "integrity"
    USABILITY = "usability"
    SECURITY = "security"


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_RUN = "not_run"


class CheckResult(_Frozen):
    """The verdict of one check on one case (or one of its files)."""

    code: str = Field(description="Stable check code, e.g. AUTH-DIGEST-SHA256.")
    property: Property
    outcome: Outcome
    reason_zh: str | None = Field(default=None, description="What a clerk should fix, in Chinese.")
    reason_en: str | None = Field(default=None, description="The same, in English.")
    file_name: str | None = Field(default=None, description="The file concerned, if any.")
    details: dict[str, str] = Field(default_factory=dict)
    severity: str | None = Field(
        default=None, description="reject or warn: what a failure of this check does (docs/checks.md)."
    )


class SignatureStatus(StrEnum):
    """What validation concluded about one electronic signature or seal."""

    VALID_TRUSTED = "valid_trusted"  # verifies, covers the file, the signer chains to the platform's anchors
    VALID_UNTRUSTED = "valid_untrusted"  # verifies and covers the file; the signer is not under the anchors
    MODIFIED = "modified"  # verifies over its byte range, but the file was changed after signing
    INVALID = "invalid"  # the signed bytes or the signature do not verify, or the field is unsigned
    NOT_VERIFIED = "not_verified"  # present, but no maintained library here can verify it


class SignatureVerdict(_Frozen):
    """One electronic signature (PDF CMS/PAdES, OFD) or OFD electronic seal, as validation judged it."""

    file_name: str = Field(description="The file (CapturedFile.file_name) that carries it.")
    field_name: str = Field(description="The PDF signature field, or the OFD signature's ID.")
    kind: str = Field(description="signature | seal (an OFD electronic seal, 电子印章).")
    status: SignatureStatus
    signer: str | None = Field(default=None, description="The signer certificate's common name, or the seal's name.")
    subject: str | None = Field(default=None, description="The signer certificate's subject.")
    fingerprint_sha256: str | None = Field(default=None, description="SHA-256 of the signer certificate (DER).")
    signed_at: str | None = Field(default=None, description="The signing time the signer claims (ISO 8601).")
    timestamp: str | None = Field(
        default=None, description="The signature timestamp: none | valid | untrusted | invalid."
    )
    note: str | None = Field(default=None, description="Why it has this status, in a sentence.")


class FileFormat(_Frozen):
    """What validation identified a file as: its PRONOM identifier where PRONOM has one."""

    file_name: str = Field(description="CapturedFile.file_name of the file.")
    puid: str | None = Field(
        default=None,
        description="PRONOM unique identifier (e.g. fmt/18), identified by FIDO; None where PRONOM has no "
        "identifier for the format (OFD) or none of its signatures matched.",
    )
    format_name: str | None = Field(default=None, description="PRONOM's name of the format.")
    identified_as: str = Field(description="The archival format validation identified (pdf, ofd, jpeg, …).")


class ValidatedCase(_Frozen):
    """`archive.validated.v1`: a case that passed every reject-severity check; warnings travel on."""

    case: CaseMetadata
    files: list[CapturedFile]
    checks: list[CheckResult]
    signatures: list[SignatureVerdict] = Field(
        default_factory=list, description="Every electronic signature and OFD seal found, with its verdict."
    )
    validated_at: datetime
    captured_at: datetime | None = Field(
        default=None, description="When capture received the case (carried on for the preservation events)."
    )
    file_formats: list[FileFormat] = Field(
        default_factory=list,
        description="The format of every file, in the order of `files` (added in 1.x; absent before).",
    )


class SharingLevel(StrEnum):
    UNCONDITIONAL = "01"
    CONDITIONAL = "02"
    NOT_SHARED = "03"


class Classification(_Frozen):
    """What the retention schedule decided, and the archival code (档号, DA/T 22-2015)."""

    fonds_code: str
    category_code: str
    class_code: str
    year: int
    retention: RetentionPeriod
    organisation_code: str
    item_number: int = Field(ge=1)
    archival_code: str = Field(description="全宗号-门类代码·年度-保管期限代码-机构(问题)代码-件号")
    security_level: str = Field(description="Security classification, e.g. 公开 / 内部.")
    sharing_level: SharingLevel
    rule_id: str
    schedule_version: str
    decided_by: str | None = Field(
        default=None, description="Who decided in manual review; absent when the schedule's rule decided."
    )
    decided_at: datetime | None = Field(default=None, description="When the manual review decision was made.")


class ClassifiedCase(_Frozen):
    """`archive.classified.v1`."""

    case: CaseMetadata
    files: list[CapturedFile]
    checks: list[CheckResult]
    classification: Classification
    classified_at: datetime
    signatures: list[SignatureVerdict] = Field(
        default_factory=list, description="Carried on from archive.validated (for the preservation events)."
    )
    captured_at: datetime | None = Field(
        default=None, description="When capture received the case (carried on for the preservation events)."
    )
    validated_at: datetime | None = Field(
        default=None, description="When validation passed the case (carried on for the preservation events)."
    )


class PackageRef(_Frozen):
    bucket: str
    prefix: str = Field(description="Object prefix of the package: the case key followed by '/'.")
    manifest_sha256: Sha256Hex = Field(description="SHA-256 of the bag's manifest-sha256.txt.")
    file_count: int
    total_bytes: int
    key: str | None = Field(
        default=None,
        description="Object key of the package: one uncompressed tar of the BagIt bag (docs/packages.md).",
    )
    retain_until: datetime | None = Field(
        default=None, description="COMPLIANCE retention of the package object: it cannot be deleted before."
    )
    legal_hold: bool = Field(default=False, description="Legal hold on the package object (permanent retention).")


class SupersededRevision(_Frozen):
    """The archived revision of the same case number that a correction replaces (docs/packages.md)."""

    case_key: str
    revision: int = Field(ge=1)
    archival_code: str


class ArchivedRecord(_Frozen):
    """`archive.record.archived.v1`: one event per archived case revision, never one per file."""

    case: CaseMetadata
    classification: Classification
    package: PackageRef
    warnings: list[CheckResult] = Field(default_factory=list)
    archived_at: datetime
    supersedes: SupersededRevision | None = Field(
        default=None,
        description="A correction of an archived case: the newest earlier revision archived when this one was "
        "packaged. Search shows the newest revision; the record shows the chain.",
    )


class RejectionStage(StrEnum):
    CAPTURE = "capture"
    VALIDATION = "validation"


class RejectedCase(_Frozen):
    """`archive.record.rejected.v1`: a rectification request (退回整改) addressed to the platform."""

    case: CaseIdentity
    case_title: str | None = None
    stage: RejectionStage
    failures: Annotated[list[CheckResult], Field(min_length=1)]
    rejected_at: datetime


class DeadLetter(_Frozen):
    """`archive.dlq.v1`: a message that could not be processed, with where it came from and why."""

    service: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    origin_key: str | None = None
    error_type: str = Field(description="Exception class or classification, e.g. InvalidEnvelope.")
    reason: str = Field(description="What was wrong with the message, for a person to act on.")
    payload_base64: str = Field(
        description="The message exactly as received; empty when it is kept in the object store instead "
        "(`payload_object`)."
    )
    failed_at: datetime
    payload_object: ObjectRef | None = Field(
        default=None,
        description="Where the message is kept when it was too large to travel inside the letter: the "
        "dead-letter bucket, keyed by origin topic/partition/offset.",
    )
    payload_bytes: int | None = Field(default=None, ge=0, description="Size of the message as received.")
    payload_sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of the message as received.")


class FixityFailed(_Frozen):
    """`archive.fixity.failed.v1`: a stored package no longer matches its digests, or cannot be read."""

    case: CaseIdentity
    archival_code: str
    package: PackageRef
    expected_sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of the package object at archiving.")
    computed_sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of what was read now, if readable.")
    failed_paths: list[str] = Field(default_factory=list, description="Bag paths whose digest no longer matches.")
    reason: str = Field(description="What is wrong, for a person to act on.")
    checked_at: datetime


class DisposedRecord(_Frozen):
    """`archive.record.disposed.v1`: an archived record destroyed at the end of its retention period, by
    an approved appraisal decision (docs/lifecycle.md, "Disposition"): what it was, why, who proposed and
    who approved, which package versions were deleted. Supervision systems drop their copies of it."""

    case: CaseIdentity
    archival_code: str
    case_title: str
    retention: str = Field(
        pattern=r"^D[1-9][0-9]{0,2}$", description="The retention period that ended (D10, D30, or an extended one)."
    )
    completed_at: datetime = Field(description="Start of the retention period: the case's completion.")
    expired_at: datetime = Field(description="End of the retention period: completion + the period.")
    decision_id: int = Field(ge=1, description="The appraisal decision (proposal) that was executed.")
    reason: str = Field(min_length=1, description="Why the record was destroyed, as the proposer wrote it.")
    proposed_by: str = Field(description="The name of the key that proposed the destruction.")
    approved_by: str = Field(description="The name of the second key, of the approving role, that approved it.")
    package_bucket: str
    package_key: str
    package_sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of the deleted package object.")
    deleted_versions: list[str] = Field(
        default_factory=list, description="Object versions deleted, as `<site>:<version id>`."
    )
    destroyed_at: datetime


# The concrete envelopes, one per topic, exported for producers, consumers and schema snapshots.
ApprovalCompletedEvent = CloudEvent[UnifiedApprovalRecord]
CapturedEvent = CloudEvent[CapturedCase]
ValidatedEvent = CloudEvent[ValidatedCase]
ClassifiedEvent = CloudEvent[ClassifiedCase]
ArchivedEvent = CloudEvent[ArchivedRecord]
RejectedEvent = CloudEvent[RejectedCase]
DeadLetterEvent = CloudEvent[DeadLetter]
FixityFailedEvent = CloudEvent[FixityFailed]
DisposedEvent = CloudEvent[DisposedRecord]
