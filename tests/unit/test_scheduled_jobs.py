"""Scheduled jobs run through the runner's machinery (services/common/runner.JobRunner), and the object
store's one "unreadable" error is as transient as what it wraps."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from minio.error import S3Error

from services.common import metrics
from services.common.adapters.object_store import ObjectUnreadable
from services.common.faults import TransientFault, is_transient
from services.common.runner import Backoff, JobRunner
from services.storage import bootstrap
from services.storage.config import StorageSettings
from tests.fakes import InMemoryIndex, InMemoryObjectStore, RecordingPublisher

pytestmark = pytest.mark.unit


async def _no_sleep(_: float) -> None:
    return None


def _rounds(job: str, outcome: str) -> float:
    return metrics.JOB_ROUNDS.labels("test", job, outcome)._value.get()


async def test_a_transient_fault_in_a_round_is_retried_and_the_round_completes() -> None:
    calls: list[Any] = []
    publisher = RecordingPublisher()

    async def flaky(given: Any) -> None:
        calls.append(given)
        if len(calls) < 3:
            raise TransientFault("database restarting")

    before = _rounds("flaky", "completed")
    runner = JobRunner(service="test", name="flaky", run=flaky, publisher=publisher, backoff=Backoff(0, 0, _no_sleep))
    assert await runner.run_once() is True
    assert calls == [publisher] * 3, "retried with the same publisher until it went through"
    assert _rounds("flaky", "completed") == before + 1


async def test_a_failed_round_is_counted_and_does_not_stop_the_next() -> None:
    attempts = 0

    async def broken(_: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug")

    before = _rounds("broken", "failed")
    runner = JobRunner(service="test", name="broken", run=broken, publisher=RecordingPublisher())
    assert await runner.run_once() is False
    assert await runner.run_once() is False
    assert attempts == 2, "not retried (not transient), and the next round runs again"
    assert _rounds("broken", "failed") == before + 2


async def test_rounds_repeat_every_interval_until_cancelled() -> None:
    rounds = 0
    slept: list[float] = []

    async def job(_: Any) -> None:
        nonlocal rounds
        rounds += 1

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 3:
            raise KeyboardInterrupt  # stands for the worker stopping

    runner = JobRunner(service="test", name="tick", run=job, publisher=RecordingPublisher())
    with pytest.raises(KeyboardInterrupt):
        await runner.run_every(7.5, sleep=sleep)
    assert (rounds, slept) == (3, [7.5] * 4), "the first round after one interval"


async def test_storage_builds_the_fixity_audit_restore_test_and_re_check_as_jobs_only_when_an_interval_is_set() -> None:
    store, index = InMemoryObjectStore(), InMemoryIndex()
    replica = InMemoryObjectStore()
    on = await bootstrap.build(
        StorageSettings(fixity_interval_seconds=60),
        store=store,  # type: ignore[arg-type]
        index=index,  # type: ignore[arg-type]
        audit_store=store,  # type: ignore[arg-type]
        replica=replica,  # type: ignore[arg-type]
        audit_replica=replica,  # type: ignore[arg-type]
    )
    off = await bootstrap.build(
        StorageSettings(fixity_interval_seconds=0, revalidation_interval_seconds=0),
        store=store,  # type: ignore[arg-type]
        index=index,  # type: ignore[arg-type]
        replica=None,
    )
    assert [(j.name, j.interval_seconds) for j in on.jobs] == [
        ("fixity-audit", 60),
        ("restore-test", 86400),
        ("revalidation", 3600),
        ("outbox-relay", 5),
    ]
    assert [j.name for j in off.jobs] == ["outbox-relay"], "the outbox relay runs whether or not the audit does"
    assert StorageSettings().archive_bucket in store.locked, "the archive bucket is made at start-up, with object lock"
    assert StorageSettings().archive_bucket in replica.locked, "on the replica too"


async def test_the_re_check_reads_through_the_stores_that_answer_a_damaged_object_at_once() -> None:
    """Like the fixity audit, the re-check must get the server's verdict on a damaged object at once, not
    minio-py's retries of a 503 (minutes per package): its job gets the audit's stores, also with the audit off."""
    store, audit, replica, audit_replica = (InMemoryObjectStore() for _ in range(4))
    built = await bootstrap.build(
        StorageSettings(fixity_interval_seconds=0, restore_test_interval_seconds=0),
        store=store,  # type: ignore[arg-type]
        index=InMemoryIndex(),  # type: ignore[arg-type]
        audit_store=audit,  # type: ignore[arg-type]
        replica=replica,  # type: ignore[arg-type]
        audit_replica=audit_replica,  # type: ignore[arg-type]
    )
    [job] = [j for j in built.jobs if j.name == "revalidation"]
    assert isinstance(job.run, partial)
    assert job.run.keywords["store"] is audit and job.run.keywords["replica"] is audit_replica


def _s3(code: str) -> S3Error:
    return S3Error(None, code, f"{code} message", "b/k", "req", "host")  # type: ignore[arg-type]


def test_an_unreadable_object_is_transient_only_when_what_it_wraps_is() -> None:
    def unreadable(cause: BaseException) -> ObjectUnreadable:
        try:
            raise ObjectUnreadable("b", "k", str(cause)) from cause
        except ObjectUnreadable as exc:
            return exc

    assert is_transient(unreadable(_s3("SlowDown")))
    assert not is_transient(unreadable(_s3("NoSuchVersion")))  # AccessDenied is waited out: see faults.py
    assert not is_transient(ObjectUnreadable("b", "k", "no cause"))


class _LockingRestoreIndex:
    """The restore test's index port with an advisory lock that another worker may hold."""

    def __init__(self, *, held_elsewhere: bool) -> None:
        self.held_elsewhere = held_elsewhere
        self.calls: list[str] = []

    async def try_lock(self, lock_id: int) -> Any:
        self.calls.append(f"try_lock {lock_id:#x}")
        return None if self.held_elsewhere else "conn"

    async def unlock(self, conn: Any, lock_id: int) -> None:
        self.calls.append(f"unlock {conn} {lock_id:#x}")

    async def packages_for_restore_test(self, *, sample: int) -> list[dict[str, Any]]:
        self.calls.append(f"pick {sample}")
        return []

    async def record_restore_test(self, row: dict[str, Any]) -> None:
        self.calls.append("record")


@pytest.mark.parametrize("held_elsewhere", [False, True])
async def test_one_storage_worker_at_a_time_runs_the_scheduled_restore_test(held_elsewhere: bool) -> None:
    from services.storage import restore_test

    index = _LockingRestoreIndex(held_elsewhere=held_elsewhere)
    await restore_test.scheduled_round(RecordingPublisher(), replica=InMemoryObjectStore(), index=index, sample=5)
    lock = f"{restore_test.RESTORE_LOCK_ID:#x}"
    if held_elsewhere:
        assert index.calls == [f"try_lock {lock}"], "another worker holds the lock: this one skips the round"
    else:
        assert index.calls == [f"try_lock {lock}", "pick 5", f"unlock conn {lock}"]
