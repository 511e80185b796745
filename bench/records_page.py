"""The search page's own request over the benchmark records, timed on the server.

    python -m bench.records_page [--rows 1000000] [--repeat 100] [--no-record]

The search page (`GET /records`) asks the API `GET /api/v1/records?…&limit=50` for each search, and the
next page with the cursor it was given. This benchmark sends exactly those requests to the query
service's ASGI application in this process (no network, no browser): the time from the request entering
the application to the last byte of its answer is the server's time — the key's authentication, the
scope, the search (services/query/search.py), the masking of ID numbers, the JSON and the audit-log row.

The records are bench/query_search/'s: the same namespace (`benchsearch`), generator and loading (a
load of the same row count is reused; otherwise it loads them, which takes minutes at a million). The
searches are that benchmark's common queries (words, company fragments, item + dates, department +
retention, …) for an operator's key and a supervision system's key, at the page's page size; the p50/p95
per query and for all of them go to docs/benchmarks.md between the records-page markers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from dataclasses import asdict
from datetime import date
from typing import Any

import asyncpg
import httpx

from bench.pipeline import percentile, record_section
from bench.query_search import NAMESPACE
from bench.query_search.data import GENERATOR_VERSION, SEED, build_world
from bench.query_search.load import load, loaded_rows
from bench.query_search.queries import CALLERS, QUERIES
from services.common.index.migrate import upgrade
from services.query.adapters.api_keys import PgApiKeys
from services.query.app import create_app
from services.query.config import QuerySettings
from services.query.search import SearchFilters

MARKS = ("<!-- bench:records-page:begin -->", "<!-- bench:records-page:end -->")
PAGE_SIZE = 50  # services/query/static/search.js PAGE_SIZE
PARAMETERS = {  # SearchFilters field → the page's (and the API's) query parameter
    "text": "q",
    "item_code": "item",
    "department_code": "department",
    "source_platform": "platform",
    "applicant_id_number": "applicant_id",
    "completed_from": "from",
    "completed_to": "to",
    "retention": "retention",
    "category_code": "category",
}


def say(text: str) -> None:
    print(f"bench.records_page: {text}", file=sys.stderr, flush=True)


def page_query(filters: SearchFilters) -> dict[str, str]:
    """The query string the search page sends for these filters."""
    query = {
        PARAMETERS[name]: value.isoformat() if isinstance(value, date) else str(value)
        for name, value in asdict(filters).items()
        if name in PARAMETERS and value not in (None, "")
    }
    return {**query, "limit": str(PAGE_SIZE)}


async def ensure_loaded(settings: QuerySettings, rows: int) -> str:
    await upgrade(settings)  # creates the database on a first run
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        have = await loaded_rows(conn)
    finally:
        await conn.close()
    if have == rows:
        return f"the {rows:,} rows bench.query_search loaded earlier (generator version {GENERATOR_VERSION}), reused"
    say(f"loading {rows:,} rows with bench.query_search's loader (minutes at a million)")
    seconds = await load(settings, build_world(SEED), rows)
    return f"{rows:,} rows loaded by bench.query_search's loader in {seconds / 60:.1f} min"


async def timed_request(client: httpx.AsyncClient, query: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.get("/api/v1/records", params=query)
    body = response.json()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"the page's request answered {response.status_code}: {body}")
    return elapsed, body


async def measure(settings: QuerySettings, repeat: int) -> list[dict[str, Any]]:
    app = create_app(settings)
    world = build_world(SEED)
    results = []
    async with app.router.lifespan_context(app):
        keys = PgApiKeys(app.state.pool)
        transport = httpx.ASGITransport(app=app)
        for template in CALLERS[:2]:  # the supervision system's key and the operator's key
            key = await keys.create(
                f"bench.records_page {template.role.value}",
                template.role.value,
                sharing_levels=sorted(template.sharing_levels),
                created_by="bench.records_page",
            )
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {key}"}
            ) as client:
                for query in (q for q in QUERIES if not q.edge):
                    rng = random.Random(f"{SEED}:page:{query.name}:{template.key_id}")
                    times: list[float] = []
                    for n in range(repeat + 3):
                        filters = query.make(rng, world, template)
                        if filters is None:
                            break
                        params = page_query(filters)
                        for _ in range(query.pages - 1):  # follow the cursor as the page's "next" does
                            _, body = await timed_request(client, params)
                            if not body["next_cursor"]:
                                break
                            params = {**params, "cursor": body["next_cursor"]}
                        ms, _ = await timed_request(client, params)
                        if n >= 3:  # warm-up runs also pay for statement preparation
                            times.append(ms)
                    if times:
                        results.append({"query": query.name, "caller": template.role.value, "ms": times})
                        say(
                            f"{query.name:44} {template.role.value:12} p50 {percentile(times, 50):7.1f} ms  "
                            f"p95 {percentile(times, 95):7.1f} ms"
                        )
    return results


def render(rows: int, repeat: int, results: list[dict[str, Any]], load_note: str, command: str, busy: float) -> str:
    every = [ms for r in results for ms in r["ms"]]
    lines = [
        MARKS[0],
        "## The search page's request (bench/records_page.py)",
        "",
        f"Command: `{command}`. Machine: 2 cores shared with Kafka, MinIO and other work; PostgreSQL of the "
        f"local stack. Data: {load_note}. Each search ran {repeat} times (after 3 warm-up runs) as the search "
        f"page sends it — `GET /api/v1/records?…&limit={PAGE_SIZE}` with the page's parameters, the next page "
        "by cursor — through the query service's ASGI app in-process: server time = authentication, scope, "
        "search, ID masking, JSON and the audit-log row, without network or browser. The machine's load "
        f"average when the measurement began: {busy:.1f} (2 cores: the figures include waiting for a core).",
        "",
        f"**All searches: p50 {percentile(every, 50):.1f} ms, p95 {percentile(every, 95):.1f} ms** "
        f"({len(every)} requests over {rows:,} records).",
        "",
        "| search | key | p50 ms | p95 ms | max ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['query']} | {r['caller']} | {percentile(r['ms'], 50):.1f} | {percentile(r['ms'], 95):.1f} "
            f"| {max(r['ms']):.1f} |"
        )
    lines.append(MARKS[1])
    return "\n".join(lines)


async def run(rows: int, repeat: int, write: bool) -> int:
    settings = QuerySettings(namespace=NAMESPACE)
    load_note = await ensure_loaded(settings, rows)
    busy = os.getloadavg()[0]
    results = await measure(settings, repeat)
    command = "python -m bench.records_page" + (f" --rows {rows}" if rows != 1_000_000 else "")
    command += f" --repeat {repeat}" if repeat != 100 else ""
    section = render(rows, repeat, results, load_note, command, busy)
    print(section)
    if write:
        record_section(section, MARKS)
        say("recorded in docs/benchmarks.md")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    return asyncio.run(run(args.rows, args.repeat, not args.no_record))


if __name__ == "__main__":
    sys.exit(main())
