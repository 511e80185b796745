"""Classification alone: how fast rules are evaluated, and how many cases per second 1 and 3
classification workers (separate processes, one consumer group) turn into classified events with
gapless archival codes.

    python -m bench.classification [--cases 600]

Runs in a namespace of its own per worker count (own topics, group and database); the validated
events carry no files (classification never reads them). Prints the figures; docs/benchmarks.md
quotes them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from archivectl.feed import publish_events
from archivectl.kafka_admin import ensure_topics
from archivectl.topic_reader import read_topics
from contracts.envelope import derived_event_id
from contracts.v1 import ValidatedCase, ValidatedEvent, topics
from samples.generator import generate_cases
from services.classification.config import bundled_schedule_file
from services.classification.schedule import load_schedule_file
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _events(count: int) -> list[dict]:
    out = []
    for sample in generate_cases(count, wrong_digest_every=None):
        rec = sample.record
        out.append(
            ValidatedEvent(
                id=derived_event_id(topics.VALIDATED, rec.case_key),
                source="urn:approval-archive:validation",
                type=topics.VALIDATED,
                time=datetime.now(UTC),
                subject=rec.case_key,
                correlationid=rec.case_key,
                data=ValidatedCase(case=rec.metadata(), files=[], checks=[], validated_at=datetime.now(UTC)),
            ).model_dump(mode="json")
        )
    return out


def rule_evaluation_rate(count: int = 20000) -> float:
    schedule = load_schedule_file(bundled_schedule_file())
    cases = [s.record for s in generate_cases(300, wrong_digest_every=None)]
    started = time.perf_counter()
    for n in range(count):
        schedule.evaluate(cases[n % len(cases)])
    return count / (time.perf_counter() - started)


def _spawn(settings: ArchiveSettings, workers: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for n in range(workers):
        env = {**os.environ, "AA_NAMESPACE": settings.namespace, "AA_METRICS_PORT": str(_free_port())}
        with (REPO / ".stack" / "logs" / f"{settings.namespace}-classification-{n}.log").open("ab") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.classification"],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return procs


async def run_workers(workers: int, events: list[dict]) -> tuple[float, bool]:
    settings = ArchiveSettings(namespace=f"bench-cls-{workers}w-{uuid.uuid4().hex[:6]}")
    await ensure_topics(settings)
    await upgrade(settings)
    procs = _spawn(settings, workers)
    try:
        # warm-up: one case, so that start-up (migrations, schedule bootstrap, group join) is not timed
        await publish_events(settings, events[:1], topic=topics.VALIDATED)
        await read_topics(settings, [topics.CLASSIFIED], done=lambda s: len(s) >= 1, timeout=180)
        await asyncio.sleep(8)  # let the group settle with every member
        started = time.monotonic()
        await publish_events(settings, events[1:], topic=topics.VALIDATED)
        _, complete = await read_topics(
            settings, [topics.CLASSIFIED], done=lambda s: len(s) >= len(events), timeout=600
        )
        elapsed = time.monotonic() - started
        conn = await asyncpg.connect(settings.pg_dsn())
        try:
            rows = await conn.fetch(
                "SELECT fonds_code, category_code, year, retention, organisation_code, item_number FROM archival_codes"
            )
        finally:
            await conn.close()
        series: dict[tuple, list[int]] = defaultdict(list)
        for r in rows:
            series[tuple(r)[:5]].append(r["item_number"])
        gapless = all(sorted(v) == list(range(1, len(v) + 1)) for v in series.values()) and len(rows) == len(events)
        return (len(events) - 1) / elapsed, complete and gapless
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=600)
    args = parser.parse_args()
    print(f"rule evaluation: {rule_evaluation_rate():,.0f} cases/s (one process, 12 rules)", flush=True)
    events = _events(args.cases)
    for workers in (1, 3):
        print(f"classifying {args.cases} cases with {workers} worker(s) …", file=sys.stderr, flush=True)
        rate, ok = asyncio.run(run_workers(workers, events))
        print(f"{workers} worker(s): {rate:.1f} cases/s, every series 1..n: {ok}", flush=True)


if __name__ == "__main__":
    main()
