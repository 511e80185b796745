"""The capture step: a platform's approval.completed event → authenticated → mapped to the unified
record → files into the staging bucket → archive.captured (or a rectification request).

Order matters: who sent it (registry), is it really theirs (signature), has this id meant something
else before (replay), what does it say (dialect mapping), and only then are files fetched and stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contracts.envelope import utc_now
from contracts.v1 import (
    CapturedCase,
    CapturedFile,
    CaseIdentity,
    CheckResult,
    Material,
    ObjectRef,
    RejectedCase,
    RejectionStage,
    UnifiedApprovalRecord,
    topics,
)
from contracts.v1.inbound import SIGNATURE_ATTRIBUTE, PlatformEvent
from services.capture import domain
from services.capture.adapters.file_fetcher import FetchFailed
from services.capture.adapters.platform_registry import Seen
from services.capture.authentication import Verdict, content_digest, verify
from services.capture.dialect import Dialect, MappingError
from services.capture.ports import FileFetcher, PlatformRegistry, QuarantineEntries
from services.common.adapters.object_store import ObjectStore
from services.common.events import follow_on
from services.common.faults import InvalidInput
from services.common.in_flight import Admission
from services.common.runner import Outbound

SERVICE = "capture"


@dataclass(frozen=True)
class CapturePorts:
    store: ObjectStore
    registry: PlatformRegistry
    fetcher: FileFetcher
    dialects: Mapping[str, Dialect]
    staging_bucket: str
    quarantine: QuarantineEntries
    max_case_bytes: int = 4 * 1024**3
    # With several cases in flight (services/common/in_flight.py), what their URL materials may spool at
    # once: each reserves its declared size (or its whole allowance when it declares none, so it spools
    # alone). None: no bound beyond one material at a time per case.
    spool_admission: Admission | None = None


def _reject(
    event: PlatformEvent, identity: CaseIdentity, failures: list[CheckResult], title: str | None = None
) -> list[Outbound]:
    """A rejection of an event that cannot be attributed to its platform: answered, not quarantined."""
    assert all(f.code in domain.UNATTRIBUTED_REJECTIONS for f in failures)
    rejected = RejectedCase(
        case=identity, case_title=title, stage=RejectionStage.CAPTURE, failures=failures, rejected_at=utc_now()
    )
    return [follow_on(event, topics.REJECTED, rejected, service=SERVICE, case_key=identity.case_key)]


async def _reject_case(
    event: PlatformEvent,
    identity: CaseIdentity,
    failures: list[CheckResult],
    ports: CapturePorts,
    record: UnifiedApprovalRecord | None = None,
) -> list[Outbound]:
    """A rejection of an authenticated platform's case: answered, and quarantined until a correction of it
    passes validation (docs/validation.md, "Quarantine and rectification")."""
    title = record.case_title if record else None
    rejected = RejectedCase(
        case=identity, case_title=title, stage=RejectionStage.CAPTURE, failures=failures, rejected_at=utc_now()
    )
    out = follow_on(event, topics.REJECTED, rejected, service=SERVICE, case_key=identity.case_key)
    await ports.quarantine.open_entry(
        case_key=identity.case_key,
        platform=identity.source_platform,
        case_number=identity.case_number,
        revision=identity.revision,
        case_title=title,
        failures=[f.model_dump(mode="json") for f in failures],
        rejected_event_id=out.event.id,
        correlation_id=event.correlationid,
        department_code=record.department_code if record else None,
        department_name=record.department_name if record else None,
        item_code=record.item_code if record else None,
        stage="capture",
    )
    return [out]


def _identity_before_mapping(event: PlatformEvent, platform: str) -> CaseIdentity:
    """Who to address a rejection to when the record could not be read: the platform, and the case as
    the event's subject names it (`platform/case-number/rN`), or else the event id."""
    parts = (event.subject or "").split("/")
    number = parts[1] if len(parts) == 3 and parts[1] else f"event-{event.id}"
    revision = int(parts[2][1:]) if len(parts) == 3 and parts[2][1:].isdigit() else 1
    return CaseIdentity(source_platform=platform, case_number=number, revision=max(revision, 1))


async def capture_case(event: PlatformEvent, *, ports: CapturePorts) -> Sequence[Outbound]:
    platform_id = event.platform
    platform = await ports.registry.get(platform_id) if platform_id else None
    addressee = _identity_before_mapping(event, platform_id or "unknown")
    if platform is None:
        return _reject(event, addressee, [domain.unknown_platform(platform_id, event.source)])
    if not platform.enabled:
        return _reject(event, addressee, [domain.disabled_platform(platform.platform_id)])
    content = event.signed_content()
    verdict = verify(content, getattr(event, SIGNATURE_ATTRIBUTE), platform.secrets)
    if verdict is not Verdict.VALID:
        return _reject(event, addressee, [domain.bad_signature(verdict.value)])
    # A replay of the same content goes through again (every later effect is idempotent, and a crash
    # after this point must heal on redelivery); the same id with other content is refused.
    if await ports.registry.remember_event(platform.platform_id, event.id, content_digest(content)) is Seen.CONFLICT:
        return await _reject_case(event, addressee, [domain.reused_event_id(event.id)], ports)

    raw_ref = ObjectRef(bucket=ports.staging_bucket, key=domain.raw_event_key(platform.platform_id, event.id))
    if await ports.store.stat(raw_ref.bucket, raw_ref.key) is None:  # kept once per event id
        await ports.store.put_bytes(
            raw_ref.bucket,
            raw_ref.key,
            json.dumps(event.model_dump(mode="json", exclude_unset=True), ensure_ascii=False).encode("utf-8"),
            content_type="application/cloudevents+json",
            metadata={"platform": platform.platform_id},
        )
    dialect = ports.dialects.get(platform.dialect)
    if dialect is None:
        raise InvalidInput(
            f"platform {platform.platform_id!r} is registered with dialect {platform.dialect!r}, "
            "which has no mapping file in services/capture/dialects/",
            kind="UnknownDialect",
        )
    try:
        record = dialect.map(event.data, platform.platform_id)
    except MappingError as exc:
        return await _reject_case(event, addressee, [domain.unmappable(dialect.name, exc.problems)], ports)

    files, failures = await _capture_files(record, ports)
    if failures:
        return await _reject_case(event, record.identity(), failures, ports, record)
    captured = CapturedCase(
        case=record.metadata(),
        files=files,
        source_event_id=event.id,
        source_event=raw_ref,
        source_dialect=dialect.name,
        captured_at=utc_now(),
    )
    return [follow_on(event, topics.CAPTURED, captured, service=SERVICE, case_key=record.case_key)]


async def _capture_files(
    record: UnifiedApprovalRecord, ports: CapturePorts
) -> tuple[list[CapturedFile], list[CheckResult]]:
    """Store every material under a key derived from the case and its content. Materials are taken one
    at a time: a URL material streams through a temporary file, so memory stays flat whatever the size."""
    case_key = record.case_key
    present = await ports.store.list_keys(ports.staging_bucket, case_key + "/")
    files: list[CapturedFile] = []
    failures: list[CheckResult] = []
    budget = ports.max_case_bytes
    for index, material in enumerate(record.materials):
        stored = await _capture_one(material, index, case_key, present, ports, budget)
        if isinstance(stored, CheckResult):
            failures.append(stored)
            continue
        budget -= stored.size
        files.append(stored)
    return files, failures


async def _capture_one(
    material: Material, index: int, case_key: str, present: set[str], ports: CapturePorts, budget: int
) -> CapturedFile | CheckResult:
    if material.content_base64 is not None:
        content = domain.decode_inline(material)
        if isinstance(content, CheckResult):
            return content
        key = domain.staging_key(case_key, index, content.sha256)
        if key not in present:
            await ports.store.put_bytes(
                ports.staging_bucket,
                key,
                content.data,
                content_type=material.media_type,
                metadata={"sha256": content.sha256, "sm3": content.sm3},
            )
        size, sha256, sm3 = len(content.data), content.sha256, content.sm3
    else:
        assert material.url is not None
        declared = material.size if material.size is not None and 0 <= material.size <= budget else budget
        async with ports.spool_admission.hold(declared) if ports.spool_admission else contextlib.nullcontext():
            fetched_or_failure = await _fetch_and_stage(material, index, case_key, present, ports, budget)
        if isinstance(fetched_or_failure, CheckResult):
            return fetched_or_failure
        key, size, sha256, sm3 = fetched_or_failure
    return CapturedFile(
        stage=material.stage,
        material_name=material.material_name,
        file_name=domain.neutralise_file_name(material.file_name, fallback=f"file-{index:03d}"),
        original_file_name=material.file_name,
        media_type=material.media_type,
        declared_size=material.size,
        declared_sha256=material.sha256,
        declared_sm3=material.sm3,
        declared_page_count=material.page_count,
        size=size,
        sha256=sha256,
        sm3=sm3,
        stored=ObjectRef(bucket=ports.staging_bucket, key=key),
    )


async def _fetch_and_stage(
    material: Material, index: int, case_key: str, present: set[str], ports: CapturePorts, budget: int
) -> tuple[str, int, str, str] | CheckResult:
    """A URL material: fetched through a spool file, staged, the spool closed. Its key, size and digests."""
    assert material.url is not None
    try:
        fetched = await ports.fetcher.fetch(material.url, max_bytes=budget)
    except FetchFailed as exc:
        return (
            domain.too_large(material, exc.detail)
            if exc.kind == "too_large"
            else domain.unreachable(material, exc.detail)
        )
    try:
        key = domain.staging_key(case_key, index, fetched.sha256)
        if key not in present:
            metadata = {"sha256": fetched.sha256, "sm3": fetched.sm3}  # S3 metadata is ASCII: no URL here
            await ports.store.put_file(
                ports.staging_bucket,
                key,
                fetched.file,
                fetched.size,
                content_type=material.media_type,
                metadata=metadata,
            )
        return key, fetched.size, fetched.sha256, fetched.sm3
    finally:
        fetched.close()
