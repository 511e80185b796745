"""Capture's composition root: the real adapters (MinIO, PostgreSQL, the HTTP fetcher) for every port not
passed in, the staging bucket made once, and the step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from contracts.v1.inbound import PlatformEvent
from services.capture.adapters.file_fetcher import HttpFileFetcher
from services.capture.adapters.platform_registry import PgPlatformRegistry
from services.capture.config import CaptureSettings
from services.capture.dialect import load_dialects
from services.capture.ports import FileFetcher, PlatformRegistry, QuarantineEntries
from services.capture.steps import CapturePorts, capture_case
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.adapters.quarantine_entries import PgQuarantineEntries
from services.common.composition import Service, open_database
from services.common.in_flight import Admission


async def build(
    settings: CaptureSettings,
    *,
    store: ObjectStore | None = None,
    registry: PlatformRegistry | None = None,
    fetcher: FileFetcher | None = None,
    quarantine: QuarantineEntries | None = None,
) -> Service[PlatformEvent]:
    dialects = load_dialects(settings.dialect_dir)  # a broken mapping file stops start-up, loudly
    closers: list[Callable[[], Awaitable[None]]] = []
    store = store or MinioObjectStore.from_settings(settings)
    await store.ensure_bucket(settings.staging_bucket)
    if registry is None or quarantine is None:
        pool = await open_database(settings, max_size=2)
        closers.append(pool.close)
        registry = registry or PgPlatformRegistry(pool)
        quarantine = quarantine or PgQuarantineEntries(pool)
    ports = CapturePorts(
        store=store,
        registry=registry,
        fetcher=fetcher or HttpFileFetcher(settings.fetch_limits(), settings.spool_dir),
        dialects=dialects,
        staging_bucket=settings.staging_bucket,
        quarantine=quarantine,
        max_case_bytes=settings.max_case_bytes,
        spool_admission=Admission(settings.in_flight_max_scratch_bytes),
    )
    return Service(partial(capture_case, ports=ports), closers=list(closers))
