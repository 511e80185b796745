"""A PostgreSQL restart is waited out, never dead-lettered: the server ends every session with 57P01
(AdminShutdownError) and connections break in the middle of an operation. `pg_terminate_backend` sends
exactly that to each backend of this test's own database — the shared server itself is never touched."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial

import asyncpg
import pytest

from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.domain import format_archival_code
from services.common.faults import is_transient
from services.common.index.migrate import upgrade
from services.common.runner import Backoff
from services.common.series import Series

pytestmark = pytest.mark.integration

_MIN_CASES, _MIN_KILLS, _MAX_CASES = 80, 10, 5000


async def _terminate_backends_repeatedly(settings, stop: asyncio.Event, kills: list[int]) -> None:  # type: ignore[no-untyped-def]
    admin = await asyncpg.connect(settings.pg_dsn("postgres"))
    try:
        while not stop.is_set():
            killed = await admin.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
                settings.pg_database,
            )
            kills.append(killed)
            await asyncio.sleep(0.15)  # a restart every 150 ms: sessions die mid-operation
    finally:
        await admin.close()


async def test_allocations_survive_sessions_terminated_mid_operation_gapless(prepared):
    settings = prepared.model_copy(update={"namespace": prepared.namespace + "-pgkill"})
    await upgrade(settings)
    store = await PgClassificationStore.connect(settings, migrate=False, max_size=3)
    series = Series("Z109", "XK", 2026, "D30", f"K{uuid.uuid4().hex[:6].upper()}")
    faults: list[BaseException] = []

    class Recording(Backoff):
        async def run(self, operation, *, service, what):  # type: ignore[no-untyped-def]
            async def observed():  # type: ignore[no-untyped-def]
                try:
                    return await operation()
                except Exception as exc:
                    faults.append(exc)
                    raise

            return await super().run(observed, service=service, what=what)

    backoff = Recording(0.01, 0.05)
    stop, kills = asyncio.Event(), []
    killer = asyncio.create_task(_terminate_backends_repeatedly(settings, stop, kills))

    decision = {
        "rule_id": "r",
        "schedule_version": "v",
        "class_code": "XK",
        "security_level": "公开",
        "sharing_level": "01",
    }

    async def classify(key: str) -> tuple[int, str]:
        event, _ = await store.record_classification(
            case_key=key,
            item_code="XK-SCJG-001",
            series=series,
            decision=decision,
            format_code=format_archival_code,
            make_event=lambda code, _series: {"item_number": code.item_number, "archival_code": code.archival_code},
        )
        return event["item_number"], event["archival_code"]

    # The workload runs until the killer has ended enough sessions, not for a fixed count: on a fast
    # machine 80 allocations finished inside two kill rounds and the test proved nothing.
    keys: list[str] = []
    results: dict[str, tuple[int, str]] = {}

    def enough() -> bool:
        return len(keys) >= _MIN_CASES and sum(kills) > _MIN_KILLS and bool(faults)

    async def worker() -> None:
        while not enough() and len(keys) < _MAX_CASES:
            key = f"p/pgkill-{len(keys)}/r1"
            keys.append(key)
            results[key] = await backoff.run(partial(classify, key), service="test", what="step")

    try:
        # three workers at once, like the pipeline's services sharing the server
        await asyncio.gather(*(worker() for _ in range(3)))
    finally:
        stop.set()
        await killer
    try:
        assert sum(kills) > 10, "the test did not terminate enough sessions to mean anything"
        assert faults, "no operation was hit by a terminated session: the test proves nothing"
        permanent = [f for f in faults if not is_transient(f)]
        assert not permanent, f"faults a restart causes were taken as permanent: {permanent[:3]}"
        assert sorted(number for number, _ in results.values()) == list(range(1, len(keys) + 1)), "gaps or duplicates"
        again = {k: await classify(k) for k in keys}
        assert again == results, "a case's code changed"
    finally:
        await store.close()


async def _long_operation(store: PgClassificationStore, session: asyncio.Future[int]) -> None:
    async with store.pool.acquire() as conn, conn.transaction():
        session.set_result(await conn.fetchval("SELECT pg_backend_pid()"))
        await conn.execute("SELECT pg_sleep(10)")


async def test_a_connection_broken_mid_operation_is_discarded_and_the_fault_is_transient(prepared):
    """asyncpg's pool terminates a connection whose reset fails on release (the session died under a
    query); the error that surfaces — the 57P01 itself, or the reset's 'another operation is in progress'
    masking it — must read as transient, and the next operation must get a fresh session at once."""
    settings = prepared.model_copy(update={"namespace": prepared.namespace + "-pgkill"})
    await upgrade(settings)
    store = await PgClassificationStore.connect(settings, migrate=False, max_size=1)
    admin = await asyncpg.connect(settings.pg_dsn("postgres"))
    try:
        for _ in range(5):
            session: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(_long_operation(store, session))
            pid = await session
            await asyncio.sleep(0.05)
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(Exception) as caught:
                await asyncio.wait_for(task, timeout=5)
            assert is_transient(caught.value), f"{caught.value!r} would dead-letter the case"
            # the very next operation works at the first try, in another session: nothing broken was reused
            assert await store.pool.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await admin.close()
        await store.close()
