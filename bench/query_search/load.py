"""Loading the generated rows: a fresh, migrated database filled by COPY, with the secondary indexes
built after the load, and a note of what was loaded so that a later run can reuse it."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from bench.query_search import say
from bench.query_search.data import CODE_COLUMNS, GENERATOR_VERSION, RECORD_COLUMNS, World, generate_rows
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

CHUNK = 25_000


async def loaded_rows(conn: asyncpg.Connection) -> int | None:
    """The row count of a complete earlier load by this generator version, or None."""
    exists = await conn.fetchval("SELECT to_regclass('bench_search_meta') IS NOT NULL")
    if not exists:
        return None
    row = await conn.fetchrow("SELECT rows, generator_version FROM bench_search_meta")
    if row is None or row["generator_version"] != GENERATOR_VERSION:
        return None
    return int(row["rows"])


async def drop_database(settings: ArchiveSettings) -> None:
    admin = await asyncpg.connect(settings.pg_dsn("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{settings.pg_database}" WITH (FORCE)')
    finally:
        await admin.close()


async def load(settings: ArchiveSettings, world: World, n: int) -> float:
    """A fresh, migrated database holding `n` generated records; returns the seconds it took."""
    started = time.perf_counter()
    await drop_database(settings)
    await upgrade(settings)
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        # Secondary indexes are maintained row by row during a COPY; built once afterwards they take a
        # fraction of the time. Their definitions come from the migrated schema, so they stay the real ones.
        secondary = await conn.fetch(
            """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
               FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
               WHERE i.indrelid IN ('records'::regclass, 'archival_codes'::regclass) AND c.oid IS NULL"""
        )
        for index in secondary:
            await conn.execute(f"DROP INDEX {index['name']}")
        series: dict[tuple, int] = {}
        next_chunk = asyncio.create_task(asyncio.to_thread(generate_rows, world, 0, min(CHUNK, n), series))
        done = 0
        while done < n:
            codes, records = await next_chunk
            size = len(records)
            if done + size < n:  # generate the next chunk while PostgreSQL takes this one
                next_chunk = asyncio.create_task(
                    asyncio.to_thread(generate_rows, world, done + size, min(CHUNK, n - done - size), series)
                )
            await conn.copy_records_to_table("archival_codes", records=codes, columns=CODE_COLUMNS)
            await conn.copy_records_to_table("records", records=records, columns=RECORD_COLUMNS)
            done += size
            if done % (CHUNK * 8) == 0 or done == n:
                rate = done / (time.perf_counter() - started)
                say(f"loaded {done:,}/{n:,} rows ({rate:,.0f} rows/s)")
        for index in secondary:
            t0 = time.perf_counter()
            await conn.execute(index["definition"])
            say(f"built {index['name']} in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) archival_codes")
        await conn.execute("VACUUM (ANALYZE) records")
        say(f"VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
        await conn.execute(
            "CREATE TABLE bench_search_meta (rows integer NOT NULL, generator_version text NOT NULL, "
            "loaded_at timestamptz NOT NULL DEFAULT now(), load_seconds real NOT NULL)"
        )
        seconds = time.perf_counter() - started
        await conn.execute(
            "INSERT INTO bench_search_meta (rows, generator_version, load_seconds) VALUES ($1, $2, $3)",
            n,
            GENERATOR_VERSION,
            seconds,
        )
        return seconds
    finally:
        await conn.close()
