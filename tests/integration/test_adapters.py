"""The adapters against the real MinIO, PostgreSQL and Kafka of the local stack."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from minio.error import S3Error

from archivectl.kafka_admin import ensure_topics
from contracts.v1 import topics
from services.classification.domain import format_archival_code
from services.common.adapters.index import PgIndex
from services.common.adapters.object_store import MinioObjectStore, ObjectMissing
from services.common.series import Series

pytestmark = pytest.mark.integration


async def test_object_store_round_trip_and_write_once_bucket(prepared):
    store = MinioObjectStore.from_settings(prepared)
    bucket = f"{prepared.namespace}-adapter-{uuid.uuid4().hex[:6]}"
    await store.ensure_bucket(bucket, object_lock=True)
    await store.ensure_bucket(bucket, object_lock=True)  # idempotent
    assert await store.stat(bucket, "missing") is None
    await store.put_bytes(
        bucket, "a/决定书.pdf", b"%PDF-1.7", content_type="application/pdf", metadata={"sha256": "abc"}
    )
    info = await store.stat(bucket, "a/决定书.pdf")
    assert info is not None and info.size == 8 and info.metadata["sha256"] == "abc"
    assert await store.get_bytes(bucket, "a/决定书.pdf") == b"%PDF-1.7"
    lock = await asyncio.to_thread(store.client.get_object_lock_config, bucket)
    assert lock is not None  # the bucket was made with object lock (and so versioning)


async def test_reading_a_missing_object_is_not_a_transient_fault(prepared):
    from services.common.faults import is_transient

    store = MinioObjectStore.from_settings(prepared)
    await store.ensure_bucket(prepared.staging_bucket)
    with pytest.raises(ObjectMissing) as caught:
        await store.get_bytes(prepared.staging_bucket, "no/such/key")
    assert isinstance(caught.value.__cause__, S3Error) and caught.value.__cause__.code == "NoSuchKey"
    assert not is_transient(caught.value)


async def test_concurrent_allocation_gives_continuous_numbers_and_stable_codes(prepared):
    index = await PgIndex.connect(prepared, max_size=8)
    try:
        series = Series("Z109", "XK", 2026, "D30", f"T{uuid.uuid4().hex[:6].upper()}")
        keys = [f"p/case-{n}/r1" for n in range(40)]
        first = await asyncio.gather(*(index.allocate_archival_code(k, series, format_archival_code) for k in keys))
        again = await asyncio.gather(*(index.allocate_archival_code(k, series, format_archival_code) for k in keys))
        assert sorted(a.item_number for a in first) == list(range(1, 41))
        assert all(a.newly_allocated for a in first)
        assert [(a.item_number, a.archival_code) for a in again] == [(a.item_number, a.archival_code) for a in first]
        assert not any(a.newly_allocated for a in again)
    finally:
        await index.close()


async def test_migrations_are_idempotent_and_the_schema_is_there(prepared):
    from services.common.index.migrate import upgrade

    await asyncio.gather(upgrade(prepared), upgrade(prepared))
    conn = await asyncpg.connect(prepared.pg_dsn())
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert {"records", "record_files", "archival_codes", "archival_series", "alembic_version"} <= tables
    finally:
        await conn.close()


async def test_topics_are_created_once(prepared):
    assert await ensure_topics(prepared) == []  # the session fixture created them all already
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=prepared.kafka_bootstrap)
    await admin.start()
    try:
        names = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {prepared.topic(t) for t in topics.ALL_TOPICS} <= names
