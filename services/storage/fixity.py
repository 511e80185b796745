"""The fixity audit: re-read stored packages, recompute their digests, record one fixity-check event per
package, and on a mismatch raise the alert metric and publish `archive.fixity.failed.v1`.

Run by hand (`archivectl fixity audit`) or on a schedule inside the storage worker (app.py: a timer
that audits the packages not checked for `fixity_max_age_days`, a batch at a time, under a PostgreSQL
advisory lock so that only one worker audits at once).

Per package, EVERY copy (primary and replica, services/storage/copies.py) is read: the version the index
trusts for that copy; its SHA-256 must equal the one recorded at archiving; every payload file and tag
file must match the bag's manifests. One fixity-check row per copy (`fixity_checks.copy`). A copy the
server cannot return (missing, or refused as corrupt) fails with the server's reason. If an object store
itself is unreachable the audit stops instead of failing every package.

The verdict per package: all copies intact; ONE copy bad — repairable: with `repair=True` (the scheduled
audit, `archivectl fixity repair`) the bad copy is rewritten from the good one as a new version
(copies.rewrite_copy), the index follows it, and a PREMIS replication event plus a passing check of the
repaired copy record the repair; EVERY copy bad — loss: the loss alarm (`archive_fixity_losses_total`)
and a critical log line, nothing to repair from. Each bad copy publishes `archive.fixity.failed.v1`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.envelope import CloudEvent, derived_event_id, utc_now
from contracts.v1 import CaseIdentity, FixityFailed, PackageRef, topics
from services.common import metrics
from services.common.adapters.fixity_log import FixityCheckRow
from services.common.adapters.object_store import ObjectStore, ObjectUnreadable
from services.common.digests import DigestWriter
from services.common.faults import is_transient
from services.common.runner import Publisher
from services.storage import bag, copies
from services.storage.copies import PRIMARY, Site
from services.storage.ports import AuditIndex, AuditPackageRow, ScheduledAuditIndex
from services.storage.preservation import SUCCESS, agent, event_type_uri

log = logging.getLogger(__name__)

AUDIT_LOCK_ID = 0x46495854  # "FIXT": one audit at a time across workers
AGENT = agent("storage").id + "#fixity-audit"
REPAIR_AGENT = agent("storage").id + "#fixity-repair"


@dataclass(frozen=True)
class FixityResult:
    case_key: str
    archival_code: str
    package_key: str
    passed: bool
    reason: str | None
    computed_sha256: str | None
    failed_paths: tuple[str, ...] = ()
    copy: str = PRIMARY
    version_id: str | None = None


@dataclass
class AuditReport:
    results: list[FixityResult] = field(default_factory=list)  # one per copy of each package
    repaired: list[str] = field(default_factory=list)  # "<case key> <copy> → version <id>"
    lost: list[str] = field(default_factory=list)  # case keys with no intact copy left
    unreachable: list[str] = field(default_factory=list)  # "<case key> <copy>": its site did not answer
    destroyed: list[str] = field(default_factory=list)  # case keys deleted by disposition while audited

    @property
    def failed(self) -> list[FixityResult]:
        return [r for r in self.results if not r.passed]

    @property
    def packages(self) -> int:
        return len({r.case_key for r in self.results})


async def check_package(store: ObjectStore, row: AuditPackageRow) -> FixityResult:
    """Re-read the primary copy of one package and recompute its digests."""
    with tempfile.TemporaryDirectory(prefix="aa-fixity-") as scratch:
        result, _ = await check_copy(Site(PRIMARY, store), row, scratch=Path(scratch))
    return result


async def _unindexed_version(site: Site, row: AuditPackageRow) -> str | None:
    """The version of a copy the index has no version of (a record indexed while the deployment had one
    site, e.g. a rebuild with `AA_MINIO_REPLICA_ENDPOINT=""`): the current one at the site, if any. The
    check reads that version, and a passing check records it in the index (`record_copy_version`)."""
    try:
        info = await site.store.stat(row["package_bucket"], row["package_key"])
    except Exception as exc:
        if is_transient(exc):
            raise  # the site does not answer: the audit names it unreachable
        return None  # the read says what the server refuses
    return info.version_id if info is not None else None


async def check_copy(site: Site, row: AuditPackageRow, *, scratch: Path) -> tuple[FixityResult, Path | None]:
    """Re-read one copy of a package and recompute its digests; the local copy too when it verifies.

    The copy is streamed into `scratch` (digested in the same pass) and verified from there, so a package
    is never whole in memory, whatever its size (issue 18): `scratch` holds one file per site, overwritten
    by the next package."""
    version_id = row["package_version_id"] if site.name == PRIMARY else row.get("replica_version_id")
    if version_id is None:
        version_id = await _unindexed_version(site, row)
    base: dict[str, Any] = {
        "case_key": row["case_key"],
        "archival_code": row["archival_code"],
        "package_key": row["package_key"],
        "copy": site.name,
        "version_id": version_id,
    }
    local = scratch / f"{site.name}.tar"
    try:
        with local.open("wb") as out:
            writer = DigestWriter(out)
            await copies.read_copy_into(site, row["package_bucket"], row["package_key"], version_id, writer)
    except ObjectUnreadable as exc:  # the server answered, and refused (an unreachable one stops the audit)
        reason = f"the package object cannot be read: {exc.detail}"
        return FixityResult(**base, passed=False, reason=reason, computed_sha256=None), None
    computed = writer.digests().sha256
    problems: list[str] = []
    if computed != row["package_sha256"]:
        problems.append(f"package object SHA-256 is {computed}, {row['package_sha256']} was recorded at archiving")
    try:
        problems += await asyncio.to_thread(_verify_local, local, computed)
    except bag.PackageUnreadable as exc:
        problems.append(f"the package is no longer a readable bag: {exc}")
    if not problems:
        return FixityResult(**base, passed=True, reason=None, computed_sha256=computed), local
    paths = tuple(p for p in bag.failed_paths(problems) if not p.startswith("package ") and not p.startswith("the "))
    failed = FixityResult(
        **base, passed=False, reason="; ".join(problems), computed_sha256=computed, failed_paths=paths
    )
    return failed, None


def _verify_local(local: Path, sha256: str) -> list[str]:
    return bag.verify(bag.read_package(local, sha256=sha256))


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
        reason=f"{result.copy} copy: {result.reason or ''}",
        checked_at=checked_at,
    )
    return CloudEvent[FixityFailed](
        id=derived_event_id(topics.FIXITY_FAILED, f"{row['case_key']}/{result.copy}@{checked_at.isoformat()}"),
        source="urn:approval-archive:storage",
        type=topics.FIXITY_FAILED,
        time=checked_at,
        subject=row["case_key"],
        correlationid=row["case_key"],
        data=data,
    )


def check_row(row: AuditPackageRow, result: FixityResult, checked_at: datetime, agent_id: str) -> FixityCheckRow:
    return {
        "case_key": row["case_key"],
        "package_bucket": row["package_bucket"],
        "package_key": row["package_key"],
        "version_id": result.version_id,
        "copy": result.copy,
        "checked_at": checked_at,
        "outcome": "pass" if result.passed else "fail",
        "reason": result.reason,
        "expected_sha256": row["package_sha256"],
        "computed_sha256": result.computed_sha256,
        "failed_paths": list(result.failed_paths),
        "agent": agent_id,
    }


def replication_event_id(case_key: str, copy: str, version: str | None) -> str:
    """The id of the replication event of one repair: the same whether the repair records it or an index
    rebuild derives it again from the repaired version (services/storage/rebuild.py)."""
    return derived_event_id("replication", f"{case_key}/{copy}/{version}")


def replication_event(
    row: AuditPackageRow, bad: FixityResult, good: str, version: str | None, at: datetime
) -> dict[str, Any]:
    """The PREMIS replication event of a repair (a preservation_events row of the case)."""
    return {
        "event_id": replication_event_id(row["case_key"], bad.copy, version),
        "event_type": "replication",
        "event_type_uri": event_type_uri("replication"),
        "event_time": at,
        "outcome": SUCCESS,
        "detail": (
            f"the {bad.copy} copy failed its fixity check ({bad.reason}); rewritten from the {good} copy as version "
            f"{version} of {row['package_bucket']}/{row['package_key']} (the bad version {bad.version_id} stays "
            "under its lock)"
        ),
        "agent": REPAIR_AGENT,
    }


async def audit(
    rows: Sequence[AuditPackageRow],
    *,
    store: ObjectStore,
    index: AuditIndex,
    publisher: Publisher | None,
    replica: ObjectStore | None = None,
    repair: bool = False,
    topic_name: Callable[[str], str] = lambda name: name,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AuditReport:
    """Audit every copy of the packages in `rows` (PgIndex.packages_for_audit), one package after another;
    with `repair`, rewrite a bad copy from a good one."""
    report = AuditReport()
    with tempfile.TemporaryDirectory(prefix="aa-fixity-") as scratch:  # two copies of one package at most
        for done, row in enumerate(rows, start=1):
            checked, unreachable = await _check_reachable_copies(
                row, store=store, replica=replica, scratch=Path(scratch)
            )
            if any(not result.passed for result, _ in checked) and await index.being_destroyed(row["case_key"]):
                # Listed before disposition deleted it (docs/lifecycle.md): gone on purpose, not damaged.
                log.info("fixity audit skipped a package destroyed by disposition", extra={"case_key": row["case_key"]})
                report.destroyed.append(row["case_key"])
                if progress:
                    progress(done, len(rows))
                continue
            report.unreachable.extend(f"{row['case_key']} {site}" for site in unreachable)
            checked_at = clock()
            alerts: dict[str, CloudEvent[FixityFailed]] = {}
            for result, _ in checked:
                alert = None if result.passed else failed_event(row, result, checked_at)
                await index.record_fixity_check(check_row(row, result, checked_at, AGENT), alert)
                column = copies.version_column(result.copy)
                if result.passed and result.version_id and row.get(column) is None:
                    # A verified copy the index had no version of: the index trusts it from now on.
                    await index.record_copy_version(row["case_key"], column=column, version_id=result.version_id)
                metrics.FIXITY_CHECKS.labels("pass" if result.passed else "fail").inc()
                report.results.append(result)
                if alert is not None:
                    alerts[result.copy] = alert
            good = next(((r, data) for r, data in checked if data is not None), None)
            for result, _ in checked:
                if result.passed:
                    continue
                metrics.FIXITY_FAILURES.inc()
                verdict = "repairable from the " + good[0].copy + " copy" if good else "NO intact copy is left"
                log.error(
                    f"fixity check failed: the {result.copy} copy of {row['case_key']} is damaged, {verdict}",
                    extra={"case_key": row["case_key"], "package_key": row["package_key"], "reason": result.reason},
                )
                alert = alerts[result.copy]
                if publisher is not None:
                    # The alert committed with its check row (the outbox); send it now. If the broker does not
                    # take it, the storage worker's outbox relay does, later: the audit goes on.
                    try:
                        await index.relay_outbox(publisher, topic_name, only=alert.id)
                    except Exception as exc:
                        log.warning(
                            "fixity alert kept in the outbox for the relay",
                            extra={"case_key": row["case_key"], "error": f"{type(exc).__name__}: {exc}"[:500]},
                        )
                if good is not None and repair:
                    await _repair(
                        row, result, good, store=store, replica=replica, index=index, report=report, clock=clock
                    )
            if good is None and not unreachable:
                metrics.FIXITY_LOSSES.inc()
                report.lost.append(row["case_key"])
                log.critical(
                    f"package {row['case_key']} is LOST at every site: no copy verifies; restore it from an off-line "
                    "backup or the submitting platform, and tell the archive centre",
                    extra={"case_key": row["case_key"], "package_key": row["package_key"]},
                )
            if progress:
                progress(done, len(rows))
    return report


async def _check_reachable_copies(
    row: AuditPackageRow, *, store: ObjectStore, replica: ObjectStore | None, scratch: Path
) -> tuple[list[tuple[FixityResult, Path | None]], list[str]]:
    """Check each copy whose site answers; a site that does not is skipped and named (a lost site leaves
    the other copy checkable). When no site answers, the audit stops with the fault."""
    checked: list[tuple[FixityResult, Path | None]] = []
    unreachable: list[str] = []
    fault: BaseException | None = None
    for site in copies.sites(store, replica):
        try:
            checked.append(await check_copy(site, row, scratch=scratch))
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(f"the {site.name} site does not answer; its copy of {row['case_key']} is not checked: {exc}")
            unreachable.append(site.name)
            fault = exc
    if not checked and fault is not None:
        raise fault
    return checked, unreachable


async def _repair(
    row: AuditPackageRow,
    bad: FixityResult,
    good: tuple[FixityResult, Path | None],
    *,
    store: ObjectStore,
    replica: ObjectStore | None,
    index: AuditIndex,
    report: AuditReport,
    clock: Callable[[], datetime],
) -> None:
    site = next(s for s in copies.sites(store, replica) if s.name == bad.copy)
    good_result, local = good
    assert local is not None
    # The rewrite still takes the good copy's bytes whole (put_new_version): a repair is rare, and a
    # streamed new-version upload is left for later (docs/benchmarks.md, issue 18).
    data = await asyncio.to_thread(local.read_bytes)
    version = await copies.rewrite_copy(site, row, data, bad.version_id)
    at = clock()
    repaired = FixityResult(
        bad.case_key,
        bad.archival_code,
        bad.package_key,
        True,
        None,
        good_result.computed_sha256,
        copy=bad.copy,
        version_id=version,
    )
    await index.record_repair(
        row["case_key"],
        column=copies.version_column(bad.copy),
        version_id=version,
        event=replication_event(row, bad, good_result.copy, version, at),
        check=check_row(row, repaired, at, REPAIR_AGENT),
    )
    metrics.FIXITY_REPAIRS.inc()
    report.repaired.append(f"{row['case_key']} {bad.copy} → version {version}")
    log.warning(
        f"repaired the {bad.copy} copy of {row['case_key']} from the {good_result.copy} copy: version {version}",
        extra={"case_key": row["case_key"], "package_key": row["package_key"]},
    )


async def scheduled_round(
    publisher: Publisher,
    *,
    store: ObjectStore,
    replica: ObjectStore | None = None,
    index: ScheduledAuditIndex,
    topic_name: Callable[[str], str],
    max_age_days: float,
    batch: int,
) -> None:
    """One round of the scheduled audit (a ScheduledJob of the storage worker): every copy of the packages not
    checked for `max_age_days`, at most `batch` of them, by one worker at a time (an advisory lock); a bad
    copy is repaired from a good one."""
    lock = await index.try_lock(AUDIT_LOCK_ID)
    if lock is None:
        return  # another worker is auditing
    try:
        due = await index.packages_for_audit(checked_before=utc_now() - timedelta(days=max_age_days), limit=batch)
        if due:
            report = await audit(
                due, store=store, replica=replica, repair=True, index=index, publisher=publisher, topic_name=topic_name
            )
            log.info(
                "fixity audit round",
                extra={
                    "checked": report.packages,
                    "failed": len(report.failed),
                    "repaired": len(report.repaired),
                    "lost": len(report.lost),
                },
            )
    finally:
        await index.unlock(lock, AUDIT_LOCK_ID)
