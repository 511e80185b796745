"""Checks at preservation time (DA/T 70-2018 names archiving, transfer and long-term preservation as the
three moments of the four-property check): re-read a stored package and check it again —

- fixity: every copy (primary and replica) read back, its SHA-256 equal to the one recorded at archiving
  and every file equal to the bag's manifests (the fixity audit's own `check_copy`);
- format: every file still in an accepted archival format, by the item's rules as they are now;
- opens: every file still opens —

the last two by validation's own functions (services/validation/recheck.py), on the bytes of a copy that
verified. One `revalidations` row per package (with the per-file results) and two PREMIS events (a fixity
check and a validation) in the case's preservation events, in one transaction.

Nothing is repaired here: a bad copy is the fixity audit's to repair (`archivectl fixity repair`).
Run by hand (`archivectl revalidate`), on a schedule inside the storage worker (a ScheduledJob: the
packages whose last re-check is older than `revalidation_max_age_days`, a batch per round, under an
advisory lock), and by `archivectl transfer create` on every record it transfers (purpose "transfer").
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from contracts.envelope import derived_event_id, utc_now
from contracts.v1 import CapturedFile, CaseMetadata, CheckResult, ObjectRef, Outcome
from services.common import metrics
from services.common.adapters.object_store import ObjectStore
from services.common.digests import digests_of
from services.common.runner import Publisher
from services.storage import bag, copies, fixity
from services.storage.ports import AuditPackageRow, RevalidationIndex, ScheduledRevalidationIndex
from services.storage.preservation import FAILURE, SUCCESS, agent, event_type_uri
from services.validation.recheck import FORMAT_CHECK, OPENS_CHECK, RuleBook, recheck

log = logging.getLogger(__name__)

REVALIDATION_LOCK_ID = 0x52455641  # "REVA": one scheduled re-check round at a time across workers
AGENT = agent("storage").id + "#revalidation"
PASS, FAIL, NOT_RUN = "pass", "fail", "not_run"
Purpose = Literal["preservation", "transfer"]
_MOMENT = {"preservation": "at long-term preservation", "transfer": "at transfer"}


@dataclass(frozen=True)
class FileCheck:
    path: str  # in the package, e.g. data/result/002-决定书.pdf
    format: str  # pass | fail
    opens: str  # pass | fail | not_run (the format check decided)
    identified: str | None  # the format as identified now, and its PRONOM id
    puid: str | None
    reason: str | None

    def as_row(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "opens": self.opens,
            "identified": self.identified,
            "puid": self.puid,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PackageCheck:
    """The re-check of one package. `sha256`/`sm3`/`size`: of the copy whose bytes were checked."""

    case_key: str
    archival_code: str
    fixity: str
    format: str
    opens: str
    reasons: tuple[str, ...]
    files: tuple[FileCheck, ...] = ()
    sha256: str | None = None
    sm3: str | None = None
    size: int | None = None
    data: bytes | None = field(default=None, repr=False)  # the verified bytes, when every check passed

    @property
    def passed(self) -> bool:
        return self.fixity == PASS and self.format == PASS and self.opens == PASS

    @property
    def reason(self) -> str | None:
        return "; ".join(self.reasons) or None


def _file_checks(results: Sequence[CheckResult], paths: dict[str, str]) -> tuple[FileCheck, ...]:
    """Fold the RECHECKED results (three per file, in file order) into one FileCheck per file."""
    by_file: dict[str, list[CheckResult]] = {}
    for r in results:
        by_file.setdefault(r.file_name or "", []).append(r)
    out = []
    for name, path in paths.items():
        found = by_file.get(name, [])
        failed = [r for r in found if r.outcome is Outcome.FAIL]
        fmt = next((r for r in found if r.code == FORMAT_CHECK), None)
        opened = next((r for r in found if r.code == OPENS_CHECK), None)
        format_ok = not any(r.code != OPENS_CHECK for r in failed)
        if opened is None or opened.outcome is Outcome.NOT_RUN:
            opens = NOT_RUN
        else:
            opens = FAIL if opened.outcome is Outcome.FAIL else PASS
        details = fmt.details if fmt else {}
        out.append(
            FileCheck(
                path=path,
                format=PASS if format_ok else FAIL,
                opens=opens,
                identified=details.get("identified"),
                puid=details.get("puid") if details.get("puid") not in (None, "none") else None,
                reason="; ".join(f"{r.code}: {r.reason_en}" for r in failed) or None,
            )
        )
    return tuple(out)


def _recheck_files(package: bag.Package, row: AuditPackageRow, rules: RuleBook | None) -> tuple[FileCheck, ...]:
    """Validation's re-check of every file of a package that verified (CPU work: call it in a thread)."""
    document = package.record
    case = CaseMetadata.model_validate(document["case"])
    files: list[tuple[CapturedFile, bytes]] = []
    paths: dict[str, str] = {}
    for entry in document["files"]:
        path = entry["path"]
        fields = {k: v for k, v in entry.items() if k != "path"}
        # Where the bytes were read from now: the file's place in the package object.
        stored = ObjectRef(bucket=row["package_bucket"], key=f"{row['package_key']}#{path}")
        files.append((CapturedFile.model_validate({**fields, "stored": stored}), package.member_bytes(path)))
        paths[entry["file_name"]] = path
    provenance = document.get("provenance") or {}
    captured_at = datetime.fromisoformat(provenance.get("captured_at") or provenance["classified_at"])
    return _file_checks(recheck(case, files, captured_at=captured_at, rules=rules), paths)


async def check_package(
    store: ObjectStore, row: AuditPackageRow, *, replica: ObjectStore | None = None, rules: RuleBook | None = None
) -> PackageCheck:
    """Fixity of every copy, then format and opening of every file of a copy that verified."""
    key, code = row["case_key"], row["archival_code"]
    with tempfile.TemporaryDirectory(prefix="aa-revalidation-") as scratch:
        checked = [await fixity.check_copy(site, row, scratch=Path(scratch)) for site in copies.sites(store, replica)]
        local = next((d for _, d in checked if d is not None), None)
        # The re-check of formats, and a transfer, still take the verified copy whole (left for later:
        # docs/benchmarks.md, issue 18); the fixity part above streams.
        data = await asyncio.to_thread(local.read_bytes) if local is not None else None
    reasons = [f"{result.copy} copy: {result.reason}" for result, _ in checked if not result.passed]
    fixity_outcome = PASS if not reasons else FAIL
    if data is None:
        reasons.append("no copy verifies, so format and opening were not checked")
        return PackageCheck(key, code, fixity=FAIL, format=NOT_RUN, opens=NOT_RUN, reasons=tuple(reasons))
    package = bag.read_package(data)  # it verified, so it reads
    files = await asyncio.to_thread(_recheck_files, package, row, rules)
    fmt = FAIL if any(f.format == FAIL for f in files) else PASS
    if any(f.opens == FAIL for f in files):
        opens = FAIL
    elif files and all(f.opens == NOT_RUN for f in files):
        opens = NOT_RUN
    else:
        opens = PASS
    reasons += [f"{f.path}: {f.reason}" for f in files if f.reason]
    digests = digests_of(data)
    passed = fixity_outcome == PASS and fmt == PASS and opens == PASS
    return PackageCheck(
        key,
        code,
        fixity=fixity_outcome,
        format=fmt,
        opens=opens,
        reasons=tuple(reasons),
        files=files,
        sha256=digests.sha256,
        sm3=digests.sm3,
        size=digests.size,
        data=data if passed else None,
    )


def check_row(check: PackageCheck, at: datetime, purpose: Purpose, transfer_set: str | None = None) -> dict[str, Any]:
    """The `revalidations` row of one re-check."""
    return {
        "case_key": check.case_key,
        "checked_at": at,
        "purpose": purpose,
        "transfer_set": transfer_set,
        "fixity": check.fixity,
        "format": check.format,
        "opens": check.opens,
        "outcome": PASS if check.passed else FAIL,
        "reason": check.reason,
        "files": [f.as_row() for f in check.files],
        "agent": AGENT,
    }


def premis_events(
    check: PackageCheck, at: datetime, purpose: Purpose, transfer_set: str | None = None
) -> list[dict[str, Any]]:
    """The PREMIS fixity-check and validation events of one re-check (rows of preservation_events, without
    the case key and seq, which the index gives)."""
    moment = _MOMENT[purpose] + (f" (transfer set {transfer_set})" if transfer_set else "")
    name = f"{check.case_key}/{purpose}@{at.isoformat()}"
    fixity_detail = (
        f"re-check {moment}: every copy's SHA-256 equals the one recorded at archiving and every file its "
        "manifest digest"
        if check.fixity == PASS
        else f"re-check {moment}: {'; '.join(r for r in check.reasons if ' copy: ' in r or 'no copy' in r)}"
    )
    files = len(check.files)
    validation_detail = (
        f"four-property re-check {moment} (DA/T 70-2018): fixity {check.fixity}, format still accepted "
        f"{check.format}, files open {check.opens} ({files} files)" + (f" — {check.reason}" if check.reason else "")
    )
    return [
        {
            "event_id": derived_event_id("revalidation-fixity", name),
            "event_type": "fixity check",
            "event_type_uri": event_type_uri("fixity check"),
            "event_time": at,
            "outcome": SUCCESS if check.fixity == PASS else FAILURE,
            "detail": fixity_detail,
            "agent": AGENT,
        },
        {
            "event_id": derived_event_id("revalidation", name),
            "event_type": "validation",
            "event_type_uri": event_type_uri("validation"),
            "event_time": at,
            "outcome": SUCCESS if check.passed else FAILURE,
            "detail": validation_detail,
            "agent": AGENT,
        },
    ]


async def revalidate(
    row: AuditPackageRow,
    *,
    store: ObjectStore,
    index: RevalidationIndex,
    replica: ObjectStore | None = None,
    purpose: Purpose = "preservation",
    transfer_set: str | None = None,
    rules: RuleBook | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> PackageCheck:
    """Re-check one package and record the result (the row and its PREMIS events, in one transaction).
    `rules`: the item rules to judge formats by (default: validation's shipped item_rules.yaml)."""
    check = await check_package(store, row, replica=replica, rules=rules)
    at = clock()
    await index.record_revalidation(
        check_row(check, at, purpose, transfer_set), premis_events(check, at, purpose, transfer_set)
    )
    metrics.REVALIDATIONS.labels(purpose, PASS if check.passed else FAIL).inc()
    if not check.passed:
        log.error(
            f"re-check {_MOMENT[purpose]} failed for {row['case_key']}: {check.reason}",
            extra={"case_key": row["case_key"], "package_key": row["package_key"]},
        )
    return check


async def run(
    rows: Sequence[AuditPackageRow],
    *,
    store: ObjectStore,
    index: RevalidationIndex,
    replica: ObjectStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    rules: RuleBook | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> list[PackageCheck]:
    """Re-check `rows` one after another (preservation time)."""
    results = []
    for done, row in enumerate(rows, start=1):
        check = await revalidate(row, store=store, index=index, replica=replica, rules=rules, clock=clock)
        results.append(replace(check, data=None))  # do not keep the bytes of a batch
        if progress:
            progress(done, len(rows))
    return results


async def scheduled_round(
    _publisher: Publisher,
    *,
    store: ObjectStore,
    replica: ObjectStore | None,
    index: ScheduledRevalidationIndex,
    max_age_days: float,
    batch: int,
    rules: RuleBook | None = None,
) -> None:
    """One round of the scheduled re-check (a ScheduledJob of the storage worker): the packages whose last
    re-check is older than `max_age_days` (never-checked first), at most `batch`, one worker at a time."""
    lock = await index.try_lock(REVALIDATION_LOCK_ID)
    if lock is None:
        return  # another worker is re-checking
    try:
        due = await index.packages_for_revalidation(
            checked_before=utc_now() - timedelta(days=max_age_days), limit=batch
        )
        if due:
            results = await run(due, store=store, replica=replica, index=index, rules=rules)
            log.info(
                "preservation re-check round",
                extra={"checked": len(results), "failed": sum(1 for r in results if not r.passed)},
            )
    finally:
        await index.unlock(lock, REVALIDATION_LOCK_ID)
