"""`python -m bench.query_search`: load (or reuse) the rows, time the queries, record the section."""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg

import bench.query_search
from bench.pipeline import RESULTS, record_section
from bench.query_search import NAMESPACE, say
from bench.query_search.data import GENERATOR_VERSION, build_world
from bench.query_search.load import CHUNK, drop_database, load, loaded_rows
from bench.query_search.queries import measure
from bench.query_search.report import MARKS, render
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings


async def run(n: int, repeat: int, write: bool, explain_all: bool, drop: bool) -> int:
    settings = ArchiveSettings(namespace=NAMESPACE)
    say(f"namespace {NAMESPACE}, database {settings.pg_database}")
    say("building the vocabulary: departments, companies, persons")
    world = build_world()
    await upgrade(settings)
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        have = await loaded_rows(conn)
    finally:
        await conn.close()
    if have == n:
        say(f"reusing the {n:,} rows loaded earlier (same count, generator version {GENERATOR_VERSION})")
        conn = await asyncpg.connect(settings.pg_dsn())
        try:
            meta = await conn.fetchrow("SELECT loaded_at, load_seconds FROM bench_search_meta")
        finally:
            await conn.close()
        load_note = (
            f"The rows were loaded on {meta['loaded_at']:%Y-%m-%d} in {meta['load_seconds'] / 60:.1f} min "
            "(COPY, indexes built after, VACUUM ANALYZE) and reused by this run."
        )
    else:
        say(f"loading {n:,} rows" + (f" (the database holds a load of {have:,}: replacing it)" if have else ""))
        seconds = await load(settings, world, n)
        say(f"loaded {n:,} rows in {seconds / 60:.1f} min")
        load_note = (
            f"Loading the rows took {seconds / 60:.1f} min (COPY in chunks of {CHUNK:,}, secondary indexes built "
            "after the load, VACUUM ANALYZE)."
        )

    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=2)
    try:
        size = await pool.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        say(f"database size {size}")
        timings = await measure(pool, world, repeat, explain_all)
    finally:
        await pool.close()
    command = "python -m bench.query_search" + (f" --rows {n}" if n != 1_000_000 else "")
    command += f" --repeat {repeat}" if repeat != 200 else ""
    section = render(n, repeat, timings, load_note, size, command)
    print(section)
    if write:
        record_section(section, MARKS)
        say(f"recorded in {RESULTS.name}")
    if drop:
        await drop_database(settings)
        say(f"dropped {settings.pg_database}")
    else:
        say(f"{settings.pg_database} ({size}) is kept for the next run; --drop removes it")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.query_search",
        description=bench.query_search.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--explain", action="store_true", help="add the plan of every query to the report")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database at the end")
    args = parser.parse_args()
    return asyncio.run(run(args.rows, args.repeat, not args.no_record, args.explain, args.drop))


if __name__ == "__main__":
    sys.exit(main())
