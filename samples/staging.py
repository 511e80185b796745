"""Cases as an upstream service hands them on, for tests and benchmarks that start mid-pipeline: the files
staged in the staging bucket the way capture stages them (its `staging_key`), and — for storage — the
classified event recorded by classification's own code path, archival code included."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence

from contracts.envelope import utc_now
from contracts.v1 import (
    CapturedFile,
    CheckResult,
    ClassifiedEvent,
    ObjectRef,
    Outcome,
    Property,
    RetentionPeriod,
    SharingLevel,
    UnifiedApprovalRecord,
    ValidatedCase,
    ValidatedEvent,
    topics,
)
from contracts.v1.record import Material
from services.capture.domain import staging_key
from services.classification.domain import Decision, OrganisationCodes
from services.classification.steps import ClassificationStore, record_decision
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.runner import Step
from services.common.settings import ArchiveSettings
from services.storage.ports import StorageIndex


async def stage_files(
    store: MinioObjectStore,
    bucket: str,
    rec: UnifiedApprovalRecord,
    materials: Sequence[Material] | None = None,
) -> list[CapturedFile]:
    """Put the record's inline materials (all, or `materials`) into `bucket` under capture's key layout and
    describe them as capture does."""
    await store.ensure_bucket(bucket)
    files = []
    for n, m in enumerate(rec.materials if materials is None else materials):
        data = base64.b64decode(m.content_base64 or "")
        digest = hashlib.sha256(data).hexdigest()
        key = staging_key(rec.case_key, n, digest)
        await store.put_bytes(bucket, key, data, content_type=m.media_type)
        files.append(
            CapturedFile(
                stage=m.stage,
                material_name=m.material_name,
                file_name=m.file_name,
                original_file_name=m.file_name,
                media_type=m.media_type,
                declared_size=m.size,
                declared_sha256=m.sha256,
                declared_page_count=m.page_count,
                size=len(data),
                sha256=digest,
                stored=ObjectRef(bucket=bucket, key=key),
            )
        )
    return files


async def classified_event(
    settings: ArchiveSettings,
    store: MinioObjectStore,
    classifications: ClassificationStore,
    rec: UnifiedApprovalRecord,
    *,
    retention: RetentionPeriod,
    sharing: SharingLevel = SharingLevel.CONDITIONAL,
    security: str = "公开",
    warnings: Iterable[CheckResult] = (),
    label: str = "test",
) -> ClassifiedEvent:
    """The case as classification hands it to storage: files staged, a passed digest check (plus
    `warnings`), and its classification recorded — with a code of the `Z109-XK-<year>-<retention>-SCJG`
    series allocated — by classification's own `record_decision`, the path every production case takes."""
    case = rec.metadata()
    files = await stage_files(store, settings.staging_bucket, rec)
    now = utc_now()
    checks = [CheckResult(code="AUTH-DIGEST-SHA256", property=Property.AUTHENTICITY, outcome=Outcome.PASS)]
    validated = ValidatedEvent(
        id=f"validated-{case.case_key}",
        source=f"urn:{label}",
        type=topics.VALIDATED,
        time=now,
        subject=case.case_key,
        correlationid=f"corr-{case.case_key}",
        data=ValidatedCase(case=case, files=files, checks=[*checks, *warnings], validated_at=now, captured_at=now),
    )
    decision = Decision(
        category_code="XK",
        class_code="XK",
        retention=retention,
        security_level=security,
        sharing_level=sharing,
        rule_id=label,
        schedule_version=label,
        organisation_code="SCJG",  # every staged case in one organisation, whatever its platform
    )
    event, _ = await record_decision(
        validated, decision, store=classifications, fonds_code="Z109", organisations=OrganisationCodes({}, {})
    )
    return event


async def storage_step(settings: ArchiveSettings, store: ObjectStore, index: StorageIndex) -> Step[ClassifiedEvent]:
    """Storage's step as its composition root builds it (the archive bucket made, no scheduled audit), on
    the given store and index: what tests and benchmarks that archive staged cases run."""
    from services.storage import bootstrap
    from services.storage.config import StorageSettings

    storage = StorageSettings(**{**settings.model_dump(), "fixity_interval_seconds": 0})
    return (await bootstrap.build(storage, store=store, index=index)).step
