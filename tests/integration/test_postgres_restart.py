"""A PostgreSQL restart is waited out, never dead-lettered: the server ends every session with 57P01
(AdminShutdownError) and connections break in the middle of an operation. `pg_terminate_backend` sends
exactly that to each backend of this test's own database — the shared server itself is never touched."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.classification.domain import format_archival_code
from services.common.adapters.index import PgIndex
from services.common.faults import is_transient
from services.common.index.migrate import upgrade
from services.common.runner import Backoff
from services.common.series import Series

pytestmark = pytest.mark.integration


async def _terminate_backends_repeatedly(settings, stop: asyncio.Event, kills: list[int]) -> None:  # type: ignore[no-untyped-def]
    admin = await asyncpg.connect(settings.pg_dsn("postgres"))
    try:
        while not stop.is_set():
            killed = await admin.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                settings.pg_database,
            )
            kills.append(killed)
            await asyncio.sleep(0.03)
    finally:
        await admin.close()


async def test_allocations_survive_sessions_terminated_mid_operation_gapless(prepared):
    settings = prepared.model_copy(update={"namespace": prepared.namespace + "-pgkill"})
    await upgrade(settings)
    index = await PgIndex.connect(settings, migrate=False, max_size=3)
    series = Series("Z109", "XK", 2026, "D30", f"K{uuid.uuid4().hex[:6].upper()}")
    faults: list[BaseException] = []

    async def record(seconds: float) -> None:
        return None

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
    keys = [f"p/pgkill-{n}/r1" for n in range(120)]

    async def allocate(key: str):  # type: ignore[no-untyped-def]
        return await backoff.run(
            lambda: index.allocate_archival_code(key, series, format_archival_code), service="test", what="step"
        )

    try:
        # three workers at once, like the pipeline's services sharing the server
        results = await asyncio.gather(*(allocate(k) for k in keys))
    finally:
        stop.set()
        await killer
    try:
        assert sum(kills) > 20, "the test did not terminate enough sessions to mean anything"
        assert faults, "no operation was hit by a terminated session: the test proves nothing"
        permanent = [f for f in faults if not is_transient(f)]
        assert not permanent, f"faults a restart causes were taken as permanent: {permanent[:3]}"
        assert sorted(r.item_number for r in results) == list(range(1, len(keys) + 1)), "gaps or duplicates"
        again = [await index.allocate_archival_code(k, series, format_archival_code) for k in keys]
        assert [a.archival_code for a in again] == [r.archival_code for r in results]
    finally:
        await index.close()


async def test_a_connection_broken_mid_operation_is_not_handed_out_again(prepared):
    """The pool must replace a connection whose session the server ended, instead of lending it to the
    next operation, which would then fail with 'another operation is in progress'."""
    settings = prepared.model_copy(update={"namespace": prepared.namespace + "-pgkill"})
    await upgrade(settings)
    index = await PgIndex.connect(settings, migrate=False, max_size=1)
    admin = await asyncpg.connect(settings.pg_dsn("postgres"))
    try:
        for _ in range(10):
            async with index.pool.acquire() as conn:
                pid = await conn.fetchval("SELECT pg_backend_pid()")
            await admin.execute("SELECT pg_terminate_backend($1)", pid)  # while it sits idle in the pool
            await asyncio.sleep(0.05)
            backoff = Backoff(0.01, 0.05)
            new_pid = await backoff.run(
                lambda: index.pool.fetchval("SELECT pg_backend_pid()"), service="test", what="step"
            )
            assert new_pid != pid
            # and the very next operation works at the first try: nothing broken was left behind
            assert await index.pool.fetchval("SELECT 1") == 1
    finally:
        await admin.close()
        await index.close()
