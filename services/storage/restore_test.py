"""The restore test (DA/T 70's 恢复测试 at preservation time): restore packages from the REPLICA ALONE into a
scratch area, validate each restored bag with bagit-python (the Library of Congress's implementation, not
this archive's own reader) and compare the package's SHA-256 with the one recorded at archiving; record
one `restore_tests` row per package.

Run by hand (`archivectl restore-test`) or on a schedule inside the storage worker (a ScheduledJob, like
the fixity audit). Packages are picked at random among those with a replica copy; the scratch area is
emptied after each package.

Every row of one run carries the run's start as `tested_at` (its `seconds` is that package's own time):
the rows of the last run are those at the newest `tested_at`, which is how the operations dashboard
shows "the last run" (services/query/dashboard_data.py restore_test_part) without a run table.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import bagit

from contracts.envelope import utc_now
from services.common import metrics
from services.common.adapters.object_store import ObjectStore, ObjectUnreadable
from services.common.runner import Publisher
from services.storage import copies
from services.storage.ports import RestoreIndex
from services.storage.preservation import agent

log = logging.getLogger(__name__)

AGENT = agent("storage").id + "#restore-test"
RESTORE_LOCK_ID = 0x52535454  # "RSTT": one scheduled restore test at a time across storage workers


@dataclass(frozen=True)
class RestoreResult:
    case_key: str
    passed: bool
    reason: str | None
    seconds: float


def _validate_restored(data: bytes, expected_sha256: str, scratch: Path) -> str | None:
    """Problems of one restored package (None: it restores, validates and matches), in a scratch folder."""
    computed = hashlib.sha256(data).hexdigest()
    if computed != expected_sha256:
        return f"the restored package's SHA-256 is {computed}, {expected_sha256} was recorded at archiving"
    folder = Path(tempfile.mkdtemp(prefix="restore-", dir=scratch))
    try:
        target = folder / "package.tar"
        target.write_bytes(data)
        with tarfile.open(target, mode="r:") as tar:
            tar.extractall(folder / "bag", filter="data")
        [bag_dir] = [p for p in (folder / "bag").iterdir() if p.is_dir()]
        bagit.Bag(str(bag_dir)).validate()
        return None
    except (tarfile.TarError, ValueError, bagit.BagError) as exc:
        return f"the restored package is not a valid bag: {exc}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def restore_one(replica: ObjectStore, row: dict[str, Any], scratch: Path) -> RestoreResult:
    started = time.monotonic()
    site = copies.Site(copies.REPLICA, replica)
    try:
        data = await copies.read_copy(site, row["package_bucket"], row["package_key"], row["replica_version_id"])
        problem = await asyncio.to_thread(_validate_restored, data, row["package_sha256"], scratch)
    except ObjectUnreadable as exc:
        problem = f"package unreadable: {exc.detail}"
    return RestoreResult(row["case_key"], problem is None, problem, time.monotonic() - started)


async def run(
    *,
    replica: ObjectStore,
    index: RestoreIndex,
    sample: int,
    scratch: Path | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> list[RestoreResult]:
    """Restore `sample` random packages from the replica and record each result, all under the run's start."""
    started_at = clock()
    rows = await index.packages_for_restore_test(sample=sample)
    results = []
    with tempfile.TemporaryDirectory(prefix="aa-restore-test-", dir=scratch) as area:
        for row in rows:
            result = await restore_one(replica, row, Path(area))
            await index.record_restore_test(
                {
                    "case_key": result.case_key,
                    "tested_at": started_at,
                    "copy": copies.REPLICA,
                    "outcome": "pass" if result.passed else "fail",
                    "reason": result.reason,
                    "seconds": result.seconds,
                    "agent": AGENT,
                }
            )
            metrics.RESTORE_TESTS.labels("pass" if result.passed else "fail").inc()
            if not result.passed:
                log.error(
                    f"restore test of {result.case_key} from the replica failed: {result.reason}; run "
                    "`archivectl fixity repair` to check and repair its copies",
                    extra={"case_key": result.case_key},
                )
            results.append(result)
    return results


async def scheduled_round(_publisher: Publisher, *, replica: ObjectStore, index: RestoreIndex, sample: int) -> None:
    """One round of the scheduled restore test (a ScheduledJob of the storage worker), by one worker at a
    time (a PostgreSQL advisory lock, as the fixity audit): N storage replicas test `sample` packages per
    interval, not N times as many."""
    lock = await index.try_lock(RESTORE_LOCK_ID)
    if lock is None:
        return  # another worker is testing
    try:
        results = await run(replica=replica, index=index, sample=sample)
    finally:
        await index.unlock(lock, RESTORE_LOCK_ID)
    log.info(
        "restore test round",
        extra={"tested": len(results), "failed": sum(1 for r in results if not r.passed)},
    )
