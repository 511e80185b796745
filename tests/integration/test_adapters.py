"""The adapters against the real MinIO, PostgreSQL and Kafka of the local stack."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from minio.error import S3Error

from archivectl.kafka_admin import ensure_topics
from contracts.v1 import topics
from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.domain import format_archival_code
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
    """The one allocator (classification's, in one transaction with the classification), under contention."""
    store = await PgClassificationStore.connect(prepared, max_size=8)
    series = Series("Z109", "XK", 2026, "D30", f"T{uuid.uuid4().hex[:6].upper()}")
    prefix = uuid.uuid4().hex[:8]
    keys = [f"p/case-{prefix}-{n}/r1" for n in range(40)]
    decision = {
        "rule_id": "r",
        "schedule_version": "v",
        "class_code": "XK",
        "security_level": "公开",
        "sharing_level": "01",
    }

    async def classify(key: str) -> tuple[int, str, bool]:
        event, created = await store.record_classification(
            case_key=key,
            item_code="XK-SCJG-001",
            series=series,
            decision=decision,
            format_code=format_archival_code,
            make_event=lambda code, _series: {"item_number": code.item_number, "archival_code": code.archival_code},
        )
        return event["item_number"], event["archival_code"], created

    try:
        first = await asyncio.gather(*(classify(k) for k in keys))
        again = await asyncio.gather(*(classify(k) for k in keys))
        assert sorted(number for number, _, _ in first) == list(range(1, 41))
        assert all(created for _, _, created in first)
        assert [(n, code) for n, code, _ in again] == [(n, code) for n, code, _ in first]
        assert not any(created for _, _, created in again)
    finally:
        await store.close()


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
