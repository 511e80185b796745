"""The storage worker: binds the storage step to archive.classified.v1 through the shared runner."""

from __future__ import annotations

from functools import partial

from contracts.v1 import ClassifiedEvent, topics
from services.common.adapters.index import PgIndex
from services.common.adapters.object_store import MinioObjectStore
from services.common.stream_app import bind_step, make_app
from services.storage.config import StorageSettings
from services.storage.steps import SERVICE, store_case

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
