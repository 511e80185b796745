"""Storage throughput: N classified cases through the storage step alone, against the real MinIO and
PostgreSQL, one at a time (as the worker runs: concurrency 1).

    python -m bench.storage --cases 200 [--no-record]

In a namespace of its own it stages the sample cases' files and allocates their archival codes (not
timed), then times:
 1. the storage step end to end per case: read + verify the staged files, SM3, build the bag and its
    tar, one write-once PUT with retention, index rows in one transaction;
 2. the object writes alone, for the same packages: one tar PUT (this layout) against the earlier
    layout's one object per bag member (~8 PUTs per case, concurrent, tag manifest last), into a
    plain bucket.
and records the figures in docs/benchmarks.md between the storage markers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.pipeline import percentile
from contracts.envelope import utc_now
from contracts.v1 import (
    ClassifiedEvent,
    RetentionPeriod,
)
from samples.generator import generate_cases
from samples.staging import classified_event
from services.classification.adapters.schedule_store import PgClassificationStore
from services.common.adapters.object_store import MinioObjectStore
from services.common.digests import digests_of
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.storage import bag
from services.storage.adapters.index import PgIndex
from services.storage.bootstrap import build
from services.storage.config import StorageSettings
from services.storage.steps import Staged, build_package

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "benchmarks.md"
MARK_BEGIN, MARK_END = "<!-- bench:storage:begin -->", "<!-- bench:storage:end -->"
NOTE = (
    "The package is one tar object written with one PUT (docs/packages.md); the last row measures the same "
    "bags written the walking skeleton's way, one object per bag member, to show what the single object saves."
)
RETENTIONS = [RetentionPeriod.THIRTY_YEARS, RetentionPeriod.TEN_YEARS, RetentionPeriod.PERMANENT]


def say(text: str) -> None:
    print(f"bench.storage: {text}", file=sys.stderr, flush=True)


async def prepare(settings: ArchiveSettings, store: MinioObjectStore, index: PgIndex, n: int) -> list[ClassifiedEvent]:
    events = []
    for i, sample in enumerate(generate_cases(n, wrong_digest_every=None)):
        retention = RETENTIONS[i % len(RETENTIONS)]
        events.append(
            await classified_event(
                settings, store, PgClassificationStore(index.pool), sample.record, retention=retention, label="bench"
            )
        )
        if (i + 1) % max(1, n // 10) == 0:
            say(f"prepared {i + 1}/{n}")
    return events


async def run(n: int) -> dict[str, Any]:
    settings = ArchiveSettings(namespace=f"bench-st{int(time.time())}")
    say(f"namespace {settings.namespace}")
    await upgrade(settings)
    store = MinioObjectStore.from_settings(settings)
    index = await PgIndex.connect(settings, migrate=False)
    folder = Path(tempfile.mkdtemp(prefix="bench-storage-"))  # the staged files, as the step copies them
    try:
        events = await prepare(settings, store, index, n)
        storage = StorageSettings(**{**settings.model_dump(), "fixity_interval_seconds": 0})
        archive = (await build(storage, store=store, index=index)).step

        step_ms: list[float] = []
        sizes: list[int] = []
        started = time.perf_counter()
        for i, event in enumerate(events, start=1):
            t0 = time.perf_counter()
            await archive(event)
            step_ms.append((time.perf_counter() - t0) * 1000)
            if i % max(1, n // 10) == 0:
                say(f"storage step {i}/{n}")
        step_seconds = time.perf_counter() - started

        # The object writes alone: the same packages, as one object or as one object per member.
        plain = f"{settings.namespace}-layouts"
        await store.ensure_bucket(plain)
        one_ms: list[float] = []
        many_ms: list[float] = []
        members_per_case: list[int] = []
        for i, event in enumerate(events):
            payloads = []
            for n, f in enumerate(event.data.files):
                content = await store.get_bytes(f.stored.bucket, f.stored.key)
                (folder / f"{n}").write_bytes(content)
                payloads.append(Staged(folder / f"{n}", digests_of(content)))
            buffer = io.BytesIO()
            key, _ = build_package(event, payloads, buffer, archive_bucket=plain, code_allocated_at=None, now=utc_now())
            data = buffer.getvalue()
            sizes.append(len(data))
            t0 = time.perf_counter()
            await store.put_bytes(plain, f"tar/{key}", data, content_type="application/x-tar")
            one_ms.append((time.perf_counter() - t0) * 1000)
            package = bag.read_package(data)
            prefix = f"prefix/{event.subject}/"
            members = [p for p in package.members if p != "tagmanifest-sha256.txt"]
            members_per_case.append(len(members) + 1)
            t0 = time.perf_counter()
            await asyncio.gather(
                *(
                    store.put_bytes(plain, prefix + p, package.member_bytes(p), content_type="application/octet-stream")
                    for p in members
                )
            )
            await store.put_bytes(
                plain,
                prefix + "tagmanifest-sha256.txt",
                package.member_bytes("tagmanifest-sha256.txt"),
                content_type="text/plain",
            )
            many_ms.append((time.perf_counter() - t0) * 1000)
            if (i + 1) % max(1, n // 10) == 0:
                say(f"layouts {i + 1}/{n}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        await index.close()
    return {
        "n": n,
        "cases_per_second": n / step_seconds,
        "step_p50": percentile(step_ms, 50),
        "step_p95": percentile(step_ms, 95),
        "step_p99": percentile(step_ms, 99),
        "package_kib": sum(sizes) / len(sizes) / 1024,
        "one_p50": percentile(one_ms, 50),
        "one_p95": percentile(one_ms, 95),
        "many_p50": percentile(many_ms, 50),
        "many_p95": percentile(many_ms, 95),
        "members": sum(members_per_case) / len(members_per_case),
        "mib_per_second": sum(sizes) / 2**20 / (sum(one_ms) / 1000),
    }


def render(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            MARK_BEGIN,
            f"### Storage step alone — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, shared with Kafka, "
            f"MinIO, PostgreSQL and other work. Command: `python -m bench.storage --cases {r['n']}`. Cases: the "
            f"sample generator's mix (three files each), packages of {r['package_kib']:.0f} KiB on average; one "
            "case at a time, as the worker runs.",
            "",
            "| what is timed | per case p50 | p95 | p99 | throughput |",
            "|---|---:|---:|---:|---:|",
            f"| storage step end to end: read + verify staged files, SM3, bag + tar, one write-once PUT with "
            f"retention, index rows | {r['step_p50']:.1f} ms | {r['step_p95']:.1f} ms | {r['step_p99']:.1f} ms | "
            f"**{r['cases_per_second']:.1f} cases/s** |",
            f"| object writes alone, this layout: one tar PUT | {r['one_p50']:.1f} ms | {r['one_p95']:.1f} ms | | "
            f"{r['mib_per_second']:.0f} MiB/s |",
            f"| object writes alone, the earlier layout: one PUT per bag member ({r['members']:.0f} per case, "
            f"concurrent, tag manifest last) | {r['many_p50']:.1f} ms | {r['many_p95']:.1f} ms | | |",
            "",
            NOTE,
            MARK_END,
        ]
    )


def record(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    if MARK_BEGIN in text:
        head, _, rest = text.partition(MARK_BEGIN)
        _, _, tail = rest.partition(MARK_END)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    result = asyncio.run(run(args.cases))
    section = render(result)
    print(section)
    if not args.no_record:
        record(section)
        say(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
