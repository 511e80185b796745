"""The fixity audit: re-read stored packages, recompute their digests, record one fixity-check event per
package, and on a mismatch raise the alert metric and publish `archive.fixity.failed.v1`.

Run by hand (`archivectl fixity audit`) or on a schedule inside the storage worker (app.py: a timer
that audits the packages not checked for `fixity_max_age_days`, a batch at a time, under a PostgreSQL
advisory lock so that only one worker audits at once).

Per package: the object's version recorded at archiving is read; its SHA-256 must equal the one
recorded then; every payload file and tag file must match the bag's manifests. A package the server
cannot return (missing, or refused as corrupt) fails with the server's reason. If the object store
itself is unreachable the audit stops instead of failing every package.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import CloudEvent, derived_event_id, utc_now
from contracts.v1 import CaseIdentity, FixityFailed, PackageRef, topics
from services.common import metrics
from services.common.adapters.object_store import ObjectMissing, ObjectStore, ObjectUnreadable
from services.common.runner import Publisher
from services.storage import bag
from services.storage.ports import AuditIndex, AuditPackageRow, ScheduledAuditIndex
from services.storage.preservation import agent

log = logging.getLogger(__name__)

AUDIT_LOCK_ID = 0x46495854  # "FIXT": one audit at a time across workers
AGENT = agent("storage").id + "#fixity-audit"


@dataclass(frozen=True)
class FixityResult:
    case_key: str
    archival_code: str
    package_key: str
    passed: bool
    reason: str | None
    computed_sha256: str | None
    failed_paths: tuple[str, ...] = ()


@dataclass
class AuditReport:
    results: list[FixityResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FixityResult]:
        return [r for r in self.results if not r.passed]


async def check_package(store: ObjectStore, row: AuditPackageRow) -> FixityResult:
    """Re-read one package and recompute its digests."""
    base: dict[str, Any] = {
        "case_key": row["case_key"],
        "archival_code": row["archival_code"],
        "package_key": row["package_key"],
    }
    try:
        data = await store.get_bytes(row["package_bucket"], row["package_key"], version_id=row["package_version_id"])
    except ObjectMissing:
        return FixityResult(**base, passed=False, reason="the package object is missing", computed_sha256=None)
    except ObjectUnreadable as exc:  # the server answered, and refused (an unreachable one stops the audit)
        return FixityResult(
            **base, passed=False, reason=f"the package object cannot be read: {exc.detail}", computed_sha256=None
        )
    computed = hashlib.sha256(data).hexdigest()
    problems: list[str] = []
    if computed != row["package_sha256"]:
        problems.append(f"package object SHA-256 is {computed}, {row['package_sha256']} was recorded at archiving")
    try:
        problems += bag.verify(bag.read_package(data))
    except bag.PackageUnreadable as exc:
        problems.append(f"the package is no longer a readable bag: {exc}")
    if not problems:
        return FixityResult(**base, passed=True, reason=None, computed_sha256=computed)
    paths = tuple(p for p in bag.failed_paths(problems) if not p.startswith("package ") and not p.startswith("the "))
    return FixityResult(**base, passed=False, reason="; ".join(problems), computed_sha256=computed, failed_paths=paths)


def failed_event(row: AuditPackageRow, result: FixityResult, checked_at: datetime) -> CloudEvent[FixityFailed]:
    identity = CaseIdentity(
        source_platform=row["source_platform"], case_number=row["case_number"], revision=row["revision"]
    )
    data = FixityFailed(
        case=identity,
        archival_code=row["archival_code"],
        package=PackageRef(
            bucket=row["package_bucket"],
            prefix=row["package_prefix"],
            manifest_sha256=row["manifest_sha256"],
            file_count=row["file_count"],
            total_bytes=row["total_bytes"],
            key=row["package_key"],
            retain_until=row["retain_until"],
            legal_hold=row["legal_hold"],
        ),
        expected_sha256=row["package_sha256"],
        computed_sha256=result.computed_sha256,
        failed_paths=list(result.failed_paths),
        reason=result.reason or "",
        checked_at=checked_at,
    )
    return CloudEvent[FixityFailed](
        id=derived_event_id(topics.FIXITY_FAILED, f"{row['case_key']}@{checked_at.isoformat()}"),
        source="urn:approval-archive:storage",
        type=topics.FIXITY_FAILED,
        time=checked_at,
        subject=row["case_key"],
        correlationid=row["case_key"],
        data=data,
    )


async def audit(
    rows: Sequence[AuditPackageRow],
    *,
    store: ObjectStore,
    index: AuditIndex,
    publisher: Publisher | None,
    topic_name: Callable[[str], str] = lambda name: name,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AuditReport:
    """Audit the packages in `rows` (PgIndex.packages_for_audit), one after another."""
    report = AuditReport()
    for done, row in enumerate(rows, start=1):
        result = await check_package(store, row)
        checked_at = clock()
        alert = None if result.passed else failed_event(row, result, checked_at)
        await index.record_fixity_check(
            {
                "case_key": row["case_key"],
                "package_bucket": row["package_bucket"],
                "package_key": row["package_key"],
                "version_id": row["package_version_id"],
                "checked_at": checked_at,
                "outcome": "pass" if result.passed else "fail",
                "reason": result.reason,
                "expected_sha256": row["package_sha256"],
                "computed_sha256": result.computed_sha256,
                "failed_paths": list(result.failed_paths),
                "agent": AGENT,
            },
            alert,
        )
        metrics.FIXITY_CHECKS.labels("pass" if result.passed else "fail").inc()
        if not result.passed:
            metrics.FIXITY_FAILURES.inc()
            log.error(
                "fixity check failed",
                extra={"case_key": row["case_key"], "package_key": row["package_key"], "reason": result.reason},
            )
            if publisher is not None and alert is not None:
                # The alert committed with its check row (the outbox); send it now. If the broker does not
                # take it, the storage worker's outbox relay does, later: the audit goes on.
                try:
                    await index.relay_outbox(publisher, topic_name, only=alert.id)
                except Exception as exc:
                    log.warning(
                        "fixity alert kept in the outbox for the relay",
                        extra={"case_key": row["case_key"], "error": f"{type(exc).__name__}: {exc}"[:500]},
                    )
        report.results.append(result)
        if progress:
            progress(done, len(rows))
    return report


async def scheduled_round(
    publisher: Publisher,
    *,
    store: ObjectStore,
    index: ScheduledAuditIndex,
    topic_name: Callable[[str], str],
    max_age_days: float,
    batch: int,
) -> None:
    """One round of the scheduled audit (a ScheduledJob of the storage worker): the packages not checked for
    `max_age_days`, at most `batch` of them, by one worker at a time (an advisory lock)."""
    lock = await index.try_lock(AUDIT_LOCK_ID)
    if lock is None:
        return  # another worker is auditing
    try:
        due = await index.packages_for_audit(checked_before=utc_now() - timedelta(days=max_age_days), limit=batch)
        if due:
            report = await audit(due, store=store, index=index, publisher=publisher, topic_name=topic_name)
            log.info("fixity audit round", extra={"checked": len(report.results), "failed": len(report.failed)})
    finally:
        await index.unlock(lock, AUDIT_LOCK_ID)
