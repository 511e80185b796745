"""The transactional outbox on the real PostgreSQL: an event staged with its row survives a crash between
the commit and the publish, is relayed at least once, and a relay never sends one row twice at once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from pydantic import BaseModel

from contracts.envelope import CloudEvent, utc_now
from services.common.adapters import outbox
from services.common.index.migrate import upgrade
from tests.fakes import RecordingPublisher

pytestmark = pytest.mark.integration


class Payload(BaseModel):
    n: int


def _event(n: int) -> CloudEvent[Payload]:
    return CloudEvent[Payload](
        id=f"outbox-test-{n}",
        source="urn:test",
        type="archive.test.v1",
        time=utc_now(),
        subject=f"p/case-{n}/r1",
        correlationid=f"p/case-{n}/r1",
        data=Payload(n=n),
    )


@pytest.fixture
async def pool(prepared):  # type: ignore[no-untyped-def]
    settings = prepared.model_copy(update={"namespace": prepared.namespace + "-outbox"})
    await upgrade(settings)
    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=4)
    await pool.execute("TRUNCATE outbox")
    yield pool
    await pool.close()


async def test_an_event_committed_with_its_row_goes_out_after_a_crash_before_the_publish(pool):
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE decided (case_key text)")
        await conn.execute("INSERT INTO decided VALUES ('p/case-1/r1')")
        await outbox.stage(conn, "archive.test.v1", _event(1))
    # the process dies here: nothing was published
    publisher = RecordingPublisher()
    assert await outbox.relay(pool, publisher, lambda t: f"ns.{t}") == 1
    [(topic, key, value)] = publisher.sent
    assert topic == "ns.archive.test.v1" and key == b"p/case-1/r1" and b'"outbox-test-1"' in value
    assert await outbox.relay(pool, publisher, lambda t: t) == 0, "sent once, marked sent"
    assert await outbox.unsent(pool) == 0


async def test_a_rolled_back_transaction_leaves_no_event(pool):
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.stage(conn, "archive.test.v1", _event(2))
            raise RuntimeError("the decision failed after the event was staged")
    assert await outbox.unsent(pool) == 0


async def test_a_failed_publish_keeps_the_event_for_the_next_pass_and_staging_twice_keeps_one(pool):
    for _ in range(2):  # a retried transaction stages the same event again
        async with pool.acquire() as conn, conn.transaction():
            await outbox.stage(conn, "archive.test.v1", _event(3))
    down = RecordingPublisher(failures_before_success=1)
    with pytest.raises(ConnectionError):
        await outbox.relay(pool, down, lambda t: t)
    assert await outbox.unsent(pool) == 1
    assert await outbox.relay(pool, down, lambda t: t) == 1
    assert [k for _, k, _ in down.sent] == [b"p/case-3/r1"]


async def test_concurrent_relays_send_each_event_once(pool):
    for n in range(10, 40):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.stage(conn, "archive.test.v1", _event(n))

    class Slow(RecordingPublisher):
        async def publish(self, topic: str, key: bytes, value: bytes) -> None:
            await asyncio.sleep(0.005)
            await super().publish(topic, key, value)

    publisher = Slow()
    counts = await asyncio.gather(*(outbox.relay(pool, publisher, lambda t: t) for _ in range(3)))
    assert sum(counts) == 30
    assert sorted(k for _, k, _ in publisher.sent) == sorted(f"p/case-{n}/r1".encode() for n in range(10, 40))


async def test_stage_refuses_to_run_outside_a_transaction(pool):
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await outbox.stage(conn, "archive.test.v1", _event(99))


class CrashingPublisher:
    """The broker connection dies just after the check row was committed."""

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        raise ConnectionResetError("the worker lost the broker (or died) between the commit and the publish")


async def test_a_fixity_alert_survives_a_crash_between_its_check_row_and_the_publish(pool):
    from datetime import UTC, datetime

    from contracts.v1 import topics
    from services.storage import fixity
    from services.storage.adapters.index import PgIndex
    from tests.fakes import InMemoryObjectStore

    store = InMemoryObjectStore()
    await store.ensure_bucket("archive")
    row = {  # a package whose object is gone: the audit must alert
        "case_key": "market-regulation/SCJG-2026-909001/r1",
        "archival_code": "Z109-XK·2026-D30-ORG-0001",
        "package_key": "market-regulation/SCJG-2026-909001/r1.tar",
        "package_bucket": "archive",
        "package_version_id": "v1",
        "package_sha256": "0" * 64,
        "source_platform": "market-regulation",
        "case_number": "SCJG-2026-909001",
        "revision": 1,
        "package_prefix": "market-regulation/SCJG-2026-909001/r1",
        "manifest_sha256": "1" * 64,
        "file_count": 1,
        "total_bytes": 10,
        "retain_until": datetime(2056, 1, 1, tzinfo=UTC),
        "legal_hold": False,
    }
    index = PgIndex(pool)
    report = await fixity.audit([row], store=store, index=index, publisher=CrashingPublisher())
    assert [r.passed for r in report.results] == [False]
    checks = await pool.fetchval("SELECT count(*) FROM fixity_checks WHERE case_key = $1", row["case_key"])
    assert checks == 1
    # the relay (the storage worker's job) sends the alert that the crash kept from going out
    publisher = RecordingPublisher()
    assert await index.relay_outbox(publisher, lambda t: t) == 1
    [(topic, key, value)] = publisher.sent
    assert topic == topics.FIXITY_FAILED and key == row["case_key"].encode()
    assert b"the package object cannot be read" in value
