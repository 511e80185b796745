"""Storage's composition root: the object store (its archive bucket made once, with object lock) and the
index (PostgreSQL) for every port not passed in, the step, and the scheduled fixity audit — all on one
pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

from contracts.envelope import utc_now
from contracts.v1 import ClassifiedEvent
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.composition import ScheduledJob, Service, open_database
from services.common.runner import Publisher
from services.storage import fixity
from services.storage.adapters.index import PgIndex
from services.storage.config import StorageSettings
from services.storage.ports import StorageIndex
from services.storage.steps import store_case


async def build(
    settings: StorageSettings,
    *,
    store: ObjectStore | None = None,
    index: StorageIndex | None = None,
    audit_store: ObjectStore | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Service[ClassifiedEvent]:
    closers: list[Callable[[], Awaitable[Any]]] = []
    store = store or MinioObjectStore.from_settings(settings)
    await store.ensure_bucket(settings.archive_bucket, object_lock=True)
    if index is None:
        pool = await open_database(settings, max_size=6)  # 4 for the step, 2 for the audit's lock and reads
        closers.append(pool.close)
        index = PgIndex(pool)
    jobs = []
    if settings.fixity_interval_seconds > 0:
        # The audit wants the server's verdict on a damaged object at once, not minio-py's retries of a 503.
        audit_store = audit_store or MinioObjectStore.from_settings(settings, retry_server_errors=False)
        round_ = partial(
            fixity.scheduled_round,
            store=audit_store,
            index=index,
            topic_name=settings.topic,
            max_age_days=settings.fixity_max_age_days,
            batch=settings.fixity_batch,
        )
        jobs.append(ScheduledJob("fixity-audit", settings.fixity_interval_seconds, round_))
    if settings.outbox_relay_seconds > 0:
        # Events committed with a database row (fixity alerts, review decisions) that their immediate
        # attempt did not send: the transactional outbox's relay (docs/reliability.md).
        jobs.append(
            ScheduledJob("outbox-relay", settings.outbox_relay_seconds, partial(_relay, index=index, settings=settings))
        )
    step = partial(store_case, store=store, index=index, archive_bucket=settings.archive_bucket, clock=clock)
    return Service(step, jobs=jobs, closers=closers)


async def _relay(publisher: Publisher, *, index: StorageIndex, settings: StorageSettings) -> None:
    await index.relay_outbox(publisher, settings.topic)
