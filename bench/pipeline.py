"""End-to-end benchmark of the pipeline, against the floor of the bare infrastructure.

    make bench                      (BENCH_CASES=2000 by default)
    python -m bench.pipeline --cases 2000 [--scaling 1,2,3|off] [--scaling-cases 600] [--no-record]

In a namespace of its own (own topics, groups, buckets, database) it:
 1. starts the four services as separate processes and warms them up with a few cases;
 2. burst: publishes N cases as fast as the broker takes them and measures throughput (cases/s from
    the first publish to the last outcome) and the latency each case saw in that backlog;
 3. paced: publishes N/4 more cases at half the burst throughput and measures latency without a
    backlog — from the completed event's `time` (set at publish) to the archived event's arrival;
 4. runs the floor (bench/floor.py) over the burst's events, as one bare process;
 5. scaling: for 1, 2 and 3 validation workers (one consumer group; the topics have 3 partitions),
    each in a fresh namespace, a burst of --scaling-cases cases with the other services one each;
 6. prints the figures and records them in docs/benchmarks.md.

During each burst it counts the CPU every process used (bench/cpu.py): the services with their
children, the stack's servers and the machine's total — to show what bounds the throughput.
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
from archivectl.kafka_admin import delete_namespace_topics, ensure_topics, wait_for_group
from archivectl.platforms import sample_platform_secrets, signed
from archivectl.topic_reader import Seen, read_topics
from bench.cpu import CpuMeter, CpuReport, ScalingRun, cpu_table, infrastructure_pids, scaling_table
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


async def measure(
    settings: ArchiveSettings, cases: list[Any], rate: float | None, label: str, meter: CpuMeter | None = None
) -> dict[str, Any]:
    """Publish `cases` and wait for their outcomes; `meter` counts CPU from the first publish to the last
    outcome (result["cpu"])."""
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
    if meter:
        meter.start()
    first = time.time()
    sent_at = await publish(settings, cases, rate)
    say(f"{label}: {len(cases)} cases published in {time.time() - first:.1f}s")
    _, complete = await reader
    cpu = meter.stop() if meter else None
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
        "cpu": cpu,
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


def render(
    n: int,
    burst: dict[str, Any],
    paced: dict[str, Any],
    floor: dict[str, float],
    peaks: dict[str, int],
    infra_peaks: dict[str, int] | None = None,
    scaling: list[ScalingRun] | None = None,
    scaling_failures: list[str] | None = None,
) -> str:
    ratio = burst["cases_per_second"] / floor["cases_per_second"]
    mib = {k: v / 2**20 for k, v in peaks.items()}
    cpu: CpuReport | None = burst.get("cpu")
    cpu_lines = []
    if cpu is not None:
        cpu_lines = [
            "",
            f"CPU during the burst ({cpu.wall_seconds:.0f} s from the first publish to the last outcome; "
            "each service with its child processes; cores used = CPU s / wall s; peak RSS over the whole run, "
            "for the stack's servers the sum over their processes):",
            "",
            *cpu_table(cpu, peaks, infra_peaks or {}),
        ]
    scaling_lines = []
    if scaling:
        scaling_lines = [
            "",
            f"Scaling with validation workers: a burst of {scaling[0].cases} cases per row, each in a fresh "
            "namespace (own topics, consumer groups, database), the other three services one worker each:",
            "",
            *scaling_table(scaling),
        ]
    if scaling_failures:
        scaling_lines += ["", *(f"Scaling run failed: {failure}" for failure in scaling_failures)]
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
            *cpu_lines,
            *scaling_lines,
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


def parse_scaling(text: str) -> tuple[int, ...]:
    """`--scaling`: `off`, or the validation worker counts to run, e.g. `1,2,3`."""
    if text.strip().lower() in ("off", "none", "0", ""):
        return ()
    counts = tuple(int(part) for part in text.split(","))
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(f"worker counts must be 1 or more: {text!r}")
    return counts


async def scaling_run(base: str, workers: int, warmup: list[Any], cases: list[Any]) -> ScalingRun:
    """One burst with `workers` validation processes in a namespace of its own (fresh topics, groups and
    database, so no run inherits another's backlog or committed offsets)."""
    settings = ArchiveSettings(namespace=f"{base}-v{workers}")
    await ensure_topics(settings)
    await upgrade(settings)
    replicas = {"validation": workers}
    procs = local_services.start(
        settings.namespace, metrics_offset=local_services.free_metrics_offset(replicas), replicas=replicas
    )
    try:
        # Every worker holds partitions before the clock starts, or one worker takes the whole burst.
        await wait_for_group(settings, "validation", workers)
        await measure(settings, warmup, None, f"{workers} validation worker(s), warm-up")
        infra = infrastructure_pids(settings)
        meter = CpuMeter.of_pids({**{p.label: p.pid() or 0 for p in procs}, **infra})
        result = await measure(settings, cases, None, f"{workers} validation worker(s)", meter)
    finally:
        local_services.stop(settings.namespace)
        await delete_namespace_topics(settings)  # a row's partitions are of no use after it
    cpu: CpuReport = result["cpu"]
    labels = [p.label for p in procs]
    return ScalingRun(
        workers=workers,
        cases=len(cases),
        cases_per_second=result["cases_per_second"],
        validation_cpu_seconds=cpu.total(p.label for p in procs if p.name == "validation"),
        wall_seconds=cpu.wall_seconds,
        all_services_cpu_seconds=cpu.total(labels),
        machine_busy_share=cpu.machine_busy_share,
        complete=result["complete"],
        stack_cpu_seconds=cpu.total(infra),
    )


async def main_async(n: int, write: bool, scaling: tuple[int, ...] = (), scaling_cases: int = 600) -> int:
    settings = ArchiveSettings(namespace=f"bench-{int(time.time())}")
    say(f"namespace {settings.namespace}: topics, database")
    await ensure_topics(settings)
    await upgrade(settings)
    say(f"generating {n + n // 4 + 3} sample cases")
    all_cases = generate_cases(n + n // 4 + 3, seed=424242)
    warmup, burst_cases, paced_cases = all_cases[:3], all_cases[3 : 3 + n], all_cases[3 + n :]
    procs = local_services.start(settings.namespace, metrics_offset=local_services.free_metrics_offset())
    service_pids = {p.label: p.pid() or 0 for p in procs}
    infra_pids = infrastructure_pids(settings)
    say("stack processes found for the CPU table: " + (", ".join(infra_pids) or "none"))
    sampler = RssSampler(service_pids)
    infra_sampler = RssSampler(infra_pids, interval=2.0, with_children=True)
    sampler.start()
    infra_sampler.start()
    try:
        say("warming up the services")
        await measure(settings, warmup, None, "warm-up")
        burst = await measure(settings, burst_cases, None, "burst", CpuMeter.of_pids({**service_pids, **infra_pids}))
        say(f"burst: {burst['cases_per_second']:.1f} cases/s")
        paced = await measure(settings, paced_cases, burst["cases_per_second"] / 2, "paced")
    finally:
        sampler.stop_flag.set()
        infra_sampler.stop_flag.set()
        local_services.stop(settings.namespace)
    say("floor: one bare process over the same events")
    floor = run_floor(settings, n + len(warmup) + len(paced_cases))
    runs, failures = [], []
    if scaling:
        # Other cases than the main run's (another seed), the same ones for every row.
        scaling_all = generate_cases(scaling_cases + 9, seed=515151)
        for workers in scaling:
            say(f"scaling: {workers} validation worker(s), {scaling_cases} cases")
            # 9 warm-up cases: most likely each of the 3 partitions, so each worker, gets one.
            try:
                run = await scaling_run(settings.namespace, workers, scaling_all[:9], scaling_all[9:])
            except Exception as exc:  # the main run's figures still get printed and recorded
                failures.append(f"{workers} validation worker(s): {type(exc).__name__}: {exc}")
                say(f"scaling: {failures[-1]}")
                continue
            say(f"scaling: {workers} validation worker(s): {run.cases_per_second:.1f} cases/s")
            runs.append(run)
    section = render(n, burst, paced, floor, sampler.peak, infra_sampler.peak, runs, failures)
    print(section)
    if write:
        record_section(section)
        say(f"recorded in {RESULTS.relative_to(REPO)}")
    say(f"namespace {settings.namespace} is left in place for inspection")
    ok = burst["complete"] and paced["complete"] and all(run.complete for run in runs) and not failures
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--no-record", action="store_true", help="print only; do not update docs/benchmarks.md")
    parser.add_argument(
        "--scaling",
        type=parse_scaling,
        default=(1, 2, 3),
        help="validation worker counts for the scaling table, e.g. 1,2,3 (default), or off",
    )
    parser.add_argument("--scaling-cases", type=int, default=600, help="cases per scaling run (default 600)")
    args = parser.parse_args()
    return asyncio.run(
        main_async(args.cases, write=not args.no_record, scaling=args.scaling, scaling_cases=args.scaling_cases)
    )


if __name__ == "__main__":
    sys.exit(main())
