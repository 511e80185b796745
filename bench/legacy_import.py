"""Benchmark of the import of digitised paper: a generated batch through `archivectl import`'s code and the
four services, then the same import again (the resume: everything archived is skipped).

    python -m bench.legacy_import --cases 8000 [--rate 1000] [--defect-every 20] [--no-record]

In a namespace of its own (own topics, groups, buckets, database) it:
 1. generates the batch (samples/legacy_batch.py: an xlsx catalogue, 5 scanned pages per case in a
    multi-page PDF, a multi-page TIFF and a PDF or JPEG decision, ~1.1 MB per case);
 2. starts the four services as separate processes, as `make up` runs them;
 3. imports it, with `--rate` high by default so that the pipeline, not the pacing, sets the pace: the
    figure is what an import can take at most (`archivectl import` defaults to half of it on this machine);
 4. imports it again and times the resume;
 5. records the figures, the command and the load average in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psutil

from archivectl import local_services
from archivectl.kafka_admin import delete_namespace_topics, ensure_topics
from archivectl.legacy_import import DEFAULT_RATE, ImportOptions, run_import
from bench.pipeline import record_section
from samples.legacy_batch import generate_batch
from services.capture.dialect import load_dialects
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

MARK_BEGIN, MARK_END = "<!-- bench:legacy-import:begin -->", "<!-- bench:legacy-import:end -->"


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


async def main_async(n: int, rate: float, defect_every: int, write: bool, argv: list[str]) -> int:
    settings = ArchiveSettings(namespace=f"bench-import-{int(time.time())}")
    work = Path(tempfile.mkdtemp(prefix="legacy-batch-"))
    load_before = os.getloadavg()
    say(f"namespace {settings.namespace}; generating {n} cases in {work}")
    t0 = time.monotonic()
    catalogue = await asyncio.to_thread(generate_batch, work, n, seed=8000, defect_every=defect_every or None)
    generated = time.monotonic() - t0
    volume = _size(work)
    await ensure_topics(settings)
    await upgrade(settings)
    local_services.start(settings.namespace, metrics_offset=local_services.free_metrics_offset())
    try:
        # The outcomes are awaited for as long as the pipeline needs at 0.25 cases/s, a quarter of the slowest
        # rate ever measured here: a long run must end by its figures, not by a time-out chosen for 300 cases.
        options = ImportOptions(work, catalogue, rate=rate, burst=rate, wait_seconds=max(1800.0, n / 0.25))
        t1 = time.monotonic()
        first = await run_import(settings, options, load_dialects())
        imported = time.monotonic() - t1
        load_during = os.getloadavg()
        t2 = time.monotonic()
        second = await run_import(settings, options, load_dialects())
        resumed = time.monotonic() - t2
    finally:
        local_services.stop(settings.namespace)
        await delete_namespace_topics(settings)
        shutil.rmtree(work, ignore_errors=True)
    counts = Counter(r.outcome for r in first)
    skipped = sum(1 for r in second if r.this_run.startswith("skipped"))
    resent = sum(1 for r in second if r.this_run == "sent")
    sent = sum(1 for r in first if r.this_run == "sent")
    section = "\n".join(
        [
            MARK_BEGIN,
            f"### Import of digitised paper — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Command: `python -m bench.legacy_import {' '.join(argv)}`. Machine: {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, shared with the stack and other work: load average "
            f"{load_before[0]:.1f} before, {load_during[0]:.1f} after the import (1 min). One worker per service.",
            "",
            "| phase | cases | time | throughput |",
            "|---|---:|---:|---:|",
            f"| generate the batch (catalogue + {volume / 2**20:.0f} MiB of scans) | {n} | {generated:.0f} s | "
            f"{n / generated:.1f} cases/s |",
            f"| import: stage scans, sign, send (rate limit {rate:g}/s), await every outcome | {n} | "
            f"{imported:.0f} s | **{n / imported:.2f} cases/s** |",
            f"| import again (resume): {skipped} skipped as archived, {resent} rejected rows retried | {n} | "
            f"{resumed:.0f} s | {n / resumed:.1f} cases/s |",
            "",
            f"Outcomes: {dict(counts)} ({sent} sent, the others without scans; every {defect_every}th row "
            f"defective). At the measured rate 8,000 cases take about {8000 / (n / imported) / 3600:.1f} h on this "
            f"machine; at the default `--rate {DEFAULT_RATE:g}` about "
            f"{8000 / min(DEFAULT_RATE, n / imported) / 3600:.1f} h, leaving the rest of the pipeline to the live "
            "platforms.",
            "",
            f"A full run of 8,000 cases writes {volume / n * 8000 / 2**30:.1f} GiB of scans to local disk and about "
            "four times that to MinIO (the `_import/` upload, capture's staging copy, the package at both sites).",
            MARK_END,
        ]
    )
    print(section)
    if write:
        record_section(section, (MARK_BEGIN, MARK_END))
        say("recorded in docs/benchmarks.md")
    return 0 if counts["pending"] == 0 and resent + skipped <= n else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=8000)
    parser.add_argument("--rate", type=float, default=1000.0, help="the import's rate limit, cases/s")
    parser.add_argument("--defect-every", type=int, default=20, help="one defective row in so many (0: none)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = parser.parse_args()
    return asyncio.run(main_async(args.cases, args.rate, args.defect_every, not args.no_record, sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
