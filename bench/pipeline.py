"""End-to-end benchmark of the pipeline, against the floor of the bare infrastructure.

    make bench                      (BENCH_CASES=2000 by default)
    python -m bench.pipeline --cases 2000 [--no-record]

In a namespace of its own (own topics, groups, buckets, database) it:
 1. starts the four services as separate processes and warms them up with a few cases;
 2. burst: publishes N cases as fast as the broker takes them and measures throughput (cases/s from
    the first publish to the last outcome) and the latency each case saw in that backlog;
 3. paced: publishes N/4 more cases at half the burst throughput and measures latency without a
    backlog — from the completed event's `time` (set at publish) to the archived event's arrival;
 4. runs the floor (bench/floor.py) over the burst's events, as one bare process;
 5. prints the figures and records them in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from archivectl import local_services
from archivectl.kafka_admin import ensure_topics
from archivectl.platforms import sample_platform_secrets, signed
from archivectl.topic_reader import Seen, read_topics
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_cases
from services.common.index.migrate import upgrade
from services.common.producer import KafkaPublisher
from services.common.settings import ArchiveSettings

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "benchmarks.md"
OUTCOMES = (topics.ARCHIVED, topics.REJECTED, topics.DEAD_LETTER)
MARK_BEGIN, MARK_END = "<!-- bench:pipeline:begin -->", "<!-- bench:pipeline:end -->"


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


class RssSampler(threading.Thread):
    """Peak resident memory of each service process, sampled every `interval` seconds; `with_children`
    counts its child processes too (ffmpeg, Alembic), as a container's memory limit does."""

    def __init__(self, pids: dict[str, int], *, interval: float = 0.5, with_children: bool = False) -> None:
        super().__init__(daemon=True)
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.stop_flag = threading.Event()
        self.interval, self.with_children = interval, with_children

    def run(self) -> None:
        while not self.stop_flag.wait(self.interval):
            for name, proc in self.procs.items():
                try:
                    tree = [proc, *proc.children(recursive=True)] if self.with_children else [proc]
                    rss = sum(p.memory_info().rss for p in tree)
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)


async def publish(settings: ArchiveSettings, cases: list[Any], rate: float | None = None) -> dict[str, float]:
    """Publish with `time` = now, signed as the platform; returns publish time per case key. `rate` in
    cases/s paces it."""
    secrets = await sample_platform_secrets(settings)
    producer = KafkaPublisher(settings)
    sent_at: dict[str, float] = {}
    try:
        started = time.monotonic()
        pending = []
        for n, case in enumerate(cases):
            if rate:
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            event = approval_completed_event(case)
            now = time.time()
            event["time"] = datetime.fromtimestamp(now, UTC).isoformat()
            event = signed(event, secrets[case.platform])
            sent_at[event["subject"]] = now
            payload = json.dumps(event, ensure_ascii=False).encode()
            pending.append(
                await producer.send(settings.topic(topics.APPROVAL_COMPLETED), event["subject"].encode(), payload)
            )
            if rate or len(pending) >= 100:
                for fut in pending:
                    await fut
                pending.clear()
        for fut in pending:
            await fut
        return sent_at
    finally:
        await producer.close()


async def measure(settings: ArchiveSettings, cases: list[Any], rate: float | None, label: str) -> dict[str, Any]:
    keys = {c.case_key for c in cases}
    outcome: dict[str, Seen] = {}

    def on_event(seen: Seen) -> None:
        if seen.key is not None and seen.key in keys and seen.key not in outcome:
            outcome[seen.key] = seen
            if len(outcome) % max(1, len(keys) // 10) == 0:
                say(f"{label}: {len(outcome)}/{len(keys)} cases out")

    reader = asyncio.create_task(
        read_topics(settings, OUTCOMES, done=lambda _: len(outcome) >= len(keys), timeout=3600, on_event=on_event)
    )
    await asyncio.sleep(1.0)  # the reader is positioned before the first case goes in
    first = time.time()
    sent_at = await publish(settings, cases, rate)
    say(f"{label}: {len(cases)} cases published in {time.time() - first:.1f}s")
    _, complete = await reader
    last = max(s.arrived_at for s in outcome.values())
    archived = [k for k in keys if k in outcome and outcome[k].topic == topics.ARCHIVED]
    latencies = [outcome[k].arrived_at - sent_at[k] for k in archived]
    counts = {t: sum(1 for s in outcome.values() if s.topic == t) for t in OUTCOMES}
    return {
        "complete": complete,
        "cases": len(cases),
        "seconds": last - first,
        "cases_per_second": len(cases) / (last - first),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "counts": counts,
    }


def run_floor(settings: ArchiveSettings, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.floor", "--namespace", settings.namespace, "--count", str(count)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def render(n: int, burst: dict[str, Any], paced: dict[str, Any], floor: dict[str, float], peaks: dict[str, int]) -> str:
    ratio = burst["cases_per_second"] / floor["cases_per_second"]
    mib = {k: v / 2**20 for k, v in peaks.items()}
    return "\n".join(
        [
            MARK_BEGIN,
            f"### Pipeline, end to end — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; Kafka, MinIO, "
            "PostgreSQL and the four services (one worker each) all on this machine. "
            f"Command: `make bench` (BENCH_CASES={n}). Cases: the sample generator's mix, ~260 KiB each "
            "(two PDFs and one 200 dpi scan inline, 10 % with a wrong digest).",
            "",
            "| phase | cases | throughput (cases/s) | latency p50 | p95 | p99 |",
            "|---|---:|---:|---:|---:|---:|",
            f"| burst (backlog of {n}) | {burst['cases']} | {burst['cases_per_second']:.1f} | {burst['p50']:.2f} s | "
            f"{burst['p95']:.2f} s | {burst['p99']:.2f} s |",
            f"| paced at half the burst rate | {paced['cases']} | {paced['cases_per_second']:.1f} | "
            f"{paced['p50']:.3f} s | {paced['p95']:.3f} s | {paced['p99']:.3f} s |",
            f"| floor: one bare process, same events, same files, one row per case | {floor['cases']:.0f} | "
            f"{floor['cases_per_second']:.1f} | | | |",
            "",
            f"**Pipeline / floor = {ratio:.2f}** (burst throughput over floor throughput).",
            "",
            "Peak RSS per service: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in mib.items()) + ".",
            "",
            f"Outcomes (burst): {burst['counts']}.",
            MARK_END,
        ]
    )


def record_section(section: str, marks: tuple[str, str] = (MARK_BEGIN, MARK_END)) -> None:
    """Put `section` (which starts and ends with `marks`) into docs/benchmarks.md, replacing its last run."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    if marks[0] in text:
        head, _, rest = text.partition(marks[0])
        _, _, tail = rest.partition(marks[1])
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


async def main_async(n: int, write: bool) -> int:
    settings = ArchiveSettings(namespace=f"bench-{int(time.time())}")
    say(f"namespace {settings.namespace}: topics, database")
    await ensure_topics(settings)
    await upgrade(settings)
    say(f"generating {n + n // 4 + 3} sample cases")
    all_cases = generate_cases(n + n // 4 + 3, seed=424242)
    warmup, burst_cases, paced_cases = all_cases[:3], all_cases[3 : 3 + n], all_cases[3 + n :]
    procs = local_services.start(settings.namespace, metrics_offset=local_services.free_metrics_offset())
    sampler = RssSampler({p.name: p.pid() or 0 for p in procs})
    sampler.start()
    try:
        say("warming up the services")
        await measure(settings, warmup, None, "warm-up")
        burst = await measure(settings, burst_cases, None, "burst")
        say(f"burst: {burst['cases_per_second']:.1f} cases/s")
        paced = await measure(settings, paced_cases, burst["cases_per_second"] / 2, "paced")
    finally:
        sampler.stop_flag.set()
        local_services.stop(settings.namespace)
    say("floor: one bare process over the same events")
    floor = run_floor(settings, n + len(warmup) + len(paced_cases))
    section = render(n, burst, paced, floor, sampler.peak)
    print(section)
    if write:
        record_section(section)
        say(f"recorded in {RESULTS.relative_to(REPO)}")
    say(f"namespace {settings.namespace} is left in place for inspection")
    return 0 if burst["complete"] and paced["complete"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--no-record", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = parser.parse_args()
    return asyncio.run(main_async(args.cases, write=not args.no_record))


if __name__ == "__main__":
    sys.exit(main())
