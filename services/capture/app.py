"""The capture worker: binds the capture step to approval.completed.v1 through the shared runner."""

from __future__ import annotations

from functools import partial

import asyncpg

from contracts.v1 import topics
from contracts.v1.inbound import PlatformEvent
from services.capture.config import CaptureSettings
from services.capture.dialect import load_dialects
from services.capture.steps import SERVICE, CapturePorts, capture_case
from services.common.adapters.file_fetcher import HttpFileFetcher
from services.common.adapters.object_store import MinioObjectStore
from services.common.adapters.platform_registry import PgPlatformRegistry
from services.common.index.migrate import upgrade
from services.common.stream_app import bind_step, make_app

settings = CaptureSettings()
app = make_app(SERVICE, settings)


async def build_step():  # type: ignore[no-untyped-def]
    dialects = load_dialects(settings.dialect_dir)  # a broken mapping file stops start-up, loudly
    store = MinioObjectStore.from_settings(settings)
    await store.ensure_bucket(settings.staging_bucket)
    await upgrade(settings)
    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=2)
    ports = CapturePorts(
        store=store,
        registry=PgPlatformRegistry(pool),
        fetcher=HttpFileFetcher(settings.fetch_limits(), settings.spool_dir),
        dialects=dialects,
        staging_bucket=settings.staging_bucket,
        max_case_bytes=settings.max_case_bytes,
    )
    return partial(capture_case, ports=ports)


bind_step(
    app,
    service=SERVICE,
    settings=settings,
    input_topic=topics.APPROVAL_COMPLETED,
    input_model=PlatformEvent,
    build_step=build_step,
)
