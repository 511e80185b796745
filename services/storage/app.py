"""The storage worker: binds the storage step to archive.classified.v1 through the shared runner, and
runs the scheduled fixity audit (services/storage/fixity.py) as a timer."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from contracts.envelope import utc_now
from contracts.v1 import ClassifiedEvent, topics
from services.common.adapters.index import PgIndex
from services.common.adapters.object_store import MinioObjectStore
from services.common.stream_app import FaustPublisher, bind_step, make_app
from services.storage import fixity
from services.storage.config import StorageSettings
from services.storage.steps import SERVICE, store_case

log = logging.getLogger(__name__)
settings = StorageSettings()
app = make_app(SERVICE, settings)


async def build_step():  # type: ignore[no-untyped-def]
    store = MinioObjectStore.from_settings(settings)
    await store.ensure_bucket(settings.archive_bucket, object_lock=True)
    index = await PgIndex.connect(settings)
    return partial(store_case, store=store, index=index, archive_bucket=settings.archive_bucket)


bind_step(
    app,
    service=SERVICE,
    settings=settings,
    input_topic=topics.CLASSIFIED,
    input_model=ClassifiedEvent,
    build_step=build_step,
)

_audit_ports: dict[str, object] = {}


async def scheduled_fixity_audit() -> None:
    """One round: the packages not checked for fixity_max_age_days, at most fixity_batch of them, by one
    worker at a time. A failure of the round is logged and the next round tries again."""
    try:
        if not _audit_ports:
            _audit_ports["store"] = MinioObjectStore.from_settings(settings, retry_server_errors=False)
            _audit_ports["index"] = await PgIndex.connect(settings, max_size=2)
        store: MinioObjectStore = _audit_ports["store"]  # type: ignore[assignment]
        index: PgIndex = _audit_ports["index"]  # type: ignore[assignment]
        lock = await index.try_lock(fixity.AUDIT_LOCK_ID)
        if lock is None:
            return  # another worker is auditing
        try:
            due = await index.packages_for_audit(
                checked_before=utc_now() - timedelta(days=settings.fixity_max_age_days), limit=settings.fixity_batch
            )
            if due:
                report = await fixity.audit(
                    due, store=store, index=index, publisher=FaustPublisher(app), topic_name=settings.topic
                )
                log.info("fixity audit round", extra={"checked": len(report.results), "failed": len(report.failed)})
        finally:
            await index.unlock(lock, fixity.AUDIT_LOCK_ID)
    except Exception:
        log.exception("fixity audit round failed; the next round will try again")


if settings.fixity_interval_seconds > 0:
    app.timer(interval=settings.fixity_interval_seconds, name="storage.fixity-audit")(scheduled_fixity_audit)
