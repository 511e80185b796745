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
from datetime import datetime
from typing import Any, Protocol

from minio.error import S3Error
from prometheus_client import Counter
from urllib3.exceptions import MaxRetryError, ResponseError

from contracts.envelope import CloudEvent, derived_event_id, utc_now
from contracts.v1 import CaseIdentity, FixityFailed, PackageRef, topics
from services.common.adapters.object_store import ObjectMissing, ObjectStore
from services.common.codec import encode_event
from services.storage import bag
from services.storage.preservation import agent

log = logging.getLogger(__name__)

FIXITY_CHECKS = Counter("archive_fixity_checks_total", "Fixity checks of stored packages, by outcome.", ["outcome"])
FIXITY_FAILURES = Counter(
    "archive_fixity_failures_total",
    "Packages found altered or unreadable by the fixity audit (alert on any increase).",
)
AUDIT_LOCK_ID = 0x46495854  # "FIXT": one audit at a time across workers
AGENT = agent("storage").id + "#fixity-audit"


class AuditIndex(Protocol):
    async def record_fixity_check(self, row: dict[str, Any]) -> None: ...


class Publisher(Protocol):
    async def publish(self, topic: str, key: bytes, value: bytes) -> None: ...


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


async def check_package(store: ObjectStore, row: dict[str, Any]) -> FixityResult:
    """Re-read one package and recompute its digests."""
    base = {"case_key": row["case_key"], "archival_code": row["archival_code"], "package_key": row["package_key"]}
    try:
        data = await store.get_bytes(row["package_bucket"], row["package_key"], version_id=row["package_version_id"])
    except ObjectMissing:
        return FixityResult(**base, passed=False, reason="the package object is missing", computed_sha256=None)
    except S3Error as exc:  # the server answered, and refused
        return FixityResult(
            **base,
            passed=False,
            reason=f"the package object cannot be read: {exc.code}: {exc.message}",
            computed_sha256=None,
        )
    except MaxRetryError as exc:
        if not isinstance(exc.reason, ResponseError):
            raise  # the object store is unreachable: stop the audit rather than fail every package
        # The server answered, again and again, with an error status: MinIO does this (503) for an object
        # whose stored data fails its own bit-rot check.
        return FixityResult(
            **base,
            passed=False,
            reason=f"the package object cannot be read: the server keeps answering {exc.reason} "
            "(MinIO answers so for data that fails its bit-rot check)",
            computed_sha256=None,
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


def failed_event(row: dict[str, Any], result: FixityResult, checked_at: datetime) -> CloudEvent[FixityFailed]:
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
    rows: Sequence[dict[str, Any]],
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
            }
        )
        FIXITY_CHECKS.labels("pass" if result.passed else "fail").inc()
        if not result.passed:
            FIXITY_FAILURES.inc()
            log.error(
                "fixity check failed",
                extra={"case_key": row["case_key"], "package_key": row["package_key"], "reason": result.reason},
            )
            if publisher is not None:
                event = failed_event(row, result, checked_at)
                await publisher.publish(
                    topic_name(topics.FIXITY_FAILED), row["case_key"].encode("utf-8"), encode_event(event)
                )
        report.results.append(result)
        if progress:
            progress(done, len(rows))
    return report
