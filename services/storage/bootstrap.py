"""Storage's composition root: the object stores of both sites (primary and replica, the archive bucket
made once on each, with object lock) and the index (PostgreSQL) for every port not passed in, the step,
the scheduled fixity audit (which repairs a bad copy from the good one), the restore test and the re-check
at preservation time — all on one pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, Literal

from contracts.envelope import utc_now
from contracts.v1 import ClassifiedEvent
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.composition import ScheduledJob, Service, open_database
from services.common.runner import Publisher
from services.storage import fixity, restore_test, revalidation
from services.storage.adapters.index import PgIndex
from services.storage.config import StorageSettings
from services.storage.copies import REPLICA
from services.storage.ports import StorageIndex
from services.storage.steps import scratch_bytes, store_case
from services.validation.recheck import load_rules


async def build(
    settings: StorageSettings,
    *,
    store: ObjectStore | None = None,
    index: StorageIndex | None = None,
    audit_store: ObjectStore | None = None,
    replica: ObjectStore | Literal["settings"] | None = "settings",
    audit_replica: ObjectStore | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Service[ClassifiedEvent]:
    """`replica="settings"`: the second site of `settings.minio_replica_endpoint` (none when it is empty);
    None: one site only."""
    closers: list[Callable[[], Awaitable[Any]]] = []
    store = store or MinioObjectStore.from_settings(settings)
    if replica == "settings":
        replica = MinioObjectStore.from_settings(settings, site=REPLICA) if settings.minio_replica_endpoint else None
    for site_store in (store, replica):
        if site_store is not None:
            await site_store.ensure_bucket(settings.archive_bucket, object_lock=True)
    if index is None:
        # 4 for the step, 2 for the fixity audit's lock and reads, 2 for the re-check's
        pool = await open_database(settings, max_size=8)
        closers.append(pool.close)
        index = PgIndex(pool)
    jobs = []
    if settings.fixity_interval_seconds > 0 or settings.revalidation_interval_seconds > 0:
        # The audit and the re-check want the server's verdict on a damaged object at once, not minio-py's
        # retries of a 503.
        audit_store = audit_store or MinioObjectStore.from_settings(settings, retry_server_errors=False)
        if replica is not None and audit_replica is None:
            audit_replica = MinioObjectStore.from_settings(settings, retry_server_errors=False, site=REPLICA)
    if settings.fixity_interval_seconds > 0:
        assert audit_store is not None
        round_ = partial(
            fixity.scheduled_round,
            store=audit_store,
            replica=audit_replica if replica is not None else None,
            index=index,
            topic_name=settings.topic,
            max_age_days=settings.fixity_max_age_days,
            batch=settings.fixity_batch,
        )
        jobs.append(ScheduledJob("fixity-audit", settings.fixity_interval_seconds, round_))
    if settings.restore_test_interval_seconds > 0 and replica is not None:
        restore_round = partial(
            restore_test.scheduled_round, replica=replica, index=index, sample=settings.restore_test_sample
        )
        jobs.append(ScheduledJob("restore-test", settings.restore_test_interval_seconds, restore_round))
    if settings.revalidation_interval_seconds > 0:
        # DA/T 70's four-property check at long-term preservation: every copy's fixity, then the formats and
        # opening of the files by validation's own checks (nothing repaired: that is the fixity audit's).
        assert audit_store is not None
        revalidation_round = partial(
            revalidation.scheduled_round,
            store=audit_store,
            replica=audit_replica if replica is not None else None,
            index=index,
            max_age_days=settings.revalidation_max_age_days,
            batch=settings.revalidation_batch,
            rules=load_rules(settings.item_rules_file),
        )
        jobs.append(ScheduledJob("revalidation", settings.revalidation_interval_seconds, revalidation_round))
    if settings.outbox_relay_seconds > 0:
        # Events committed with a database row (fixity alerts, review decisions) that their immediate
        # attempt did not send: the transactional outbox's relay (docs/reliability.md).
        jobs.append(
            ScheduledJob("outbox-relay", settings.outbox_relay_seconds, partial(_relay, index=index, settings=settings))
        )
    step = partial(
        store_case, store=store, replica=replica, index=index, archive_bucket=settings.archive_bucket, clock=clock
    )
    return Service(step, jobs=jobs, closers=closers, weigh=scratch_bytes)


async def _relay(publisher: Publisher, *, index: StorageIndex, settings: StorageSettings) -> None:
    await index.relay_outbox(publisher, settings.topic)
