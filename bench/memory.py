"""Peak memory of every worker for the largest cases the archive accepts.

    python -m bench.memory [--scenario NAME ...] [--no-record]

Scenarios (each a generic-form case: its usual sample materials by URL, plus the large ones):
    material-1gib      one scanned PDF of just under 1 GiB (capture's per-file limit), by URL
    a3-scans-10        ten 600-dpi A3 colour scans (7016 x 9921 px JPEGs), by URL
    scanned-pdf-500    a 500-page scanned PDF (300 dpi A4 pages), by URL

Each scenario runs the four pipeline services as their own processes in a namespace of their own (fresh
processes, so each peak belongs to its scenario), publishes the case, waits for its outcome and reads
each worker's peak resident set (VmHWM, exact: the kernel's high-water mark). The RSS of the worker
with its child processes (ffmpeg, veraPDF) is sampled every 0.2 s beside it: a container's memory limit
counts both. The large files are generated under $TMPDIR and deleted afterwards; nothing is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archivectl import local_services
from archivectl.feed import publish_events
from archivectl.kafka_admin import delete_namespace_topics, ensure_topics
from archivectl.outcomes import Outcomes, await_outcomes
from archivectl.platforms import ensure_platforms, signed
from bench.pipeline import RESULTS, RssSampler, record_section
from samples.dialects import render
from samples.file_service import FileServer
from samples.generator import approval_completed_event, generate_cases
from samples.large_files import a3_scan_jpeg, write_scanned_pdf
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

MARKS = ("<!-- bench:memory:begin -->", "<!-- bench:memory:end -->")
PLATFORM = "online-forms"  # the generic-form platform of the samples (organisations.yaml knows it)
GIB = 1024**3
TARGET_MIB = 256


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _material_1gib(folder: Path) -> list[Path]:
    path = folder / "scanned-1gib.pdf"
    pages = write_scanned_pdf(
        path, max_bytes=GIB, dpi=600, progress=lambda done, total: say(f"  writing {path.name}: {done}/{total} pages")
    )
    say(f"  {path.name}: {pages} pages, {path.stat().st_size / 2**20:.0f} MiB")
    return [path]


def _a3_scans(folder: Path) -> list[Path]:
    paths = []
    for n in range(10):
        path = folder / f"a3-scan-{n + 1:02d}.jpg"
        path.write_bytes(a3_scan_jpeg(seed=n))
        say(f"  {path.name}: {path.stat().st_size / 2**20:.1f} MiB")
        paths.append(path)
    return paths


def _scanned_pdf_500(folder: Path) -> list[Path]:
    path = folder / "scanned-500-pages.pdf"
    write_scanned_pdf(path, pages=500, progress=lambda done, total: say(f"  writing {path.name}: {done}/{total}"))
    say(f"  {path.name}: {path.stat().st_size / 2**20:.0f} MiB")
    return [path]


SCENARIOS: dict[str, tuple[str, Callable[[Path], list[Path]]]] = {
    "material-1gib": ("one scanned PDF of just under 1 GiB by URL", _material_1gib),
    "a3-scans-10": ("ten 600-dpi A3 colour scans by URL", _a3_scans),
    "scanned-pdf-500": ("a 500-page scanned PDF (300 dpi) by URL", _scanned_pdf_500),
}


@dataclass
class ScenarioResult:
    name: str
    outcome: str  # "archived", "rejected: CODES" or "dead-lettered"
    seconds: float
    material_bytes: int
    material_sha256: dict[str, str] = field(default_factory=dict)  # file name → digest, as generated
    peak_mib: dict[str, float] = field(default_factory=dict)  # VmHWM of each worker
    tree_mib: dict[str, float] = field(default_factory=dict)  # sampled: worker + its children
    event: dict[str, Any] = field(default_factory=dict)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _vm_hwm(pid: int) -> int:
    """The kernel's peak resident set of `pid`, in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


async def run_scenario(
    name: str, *, keep_namespace: bool = False, timeout: float = 3600.0
) -> tuple[ScenarioResult, ArchiveSettings]:
    """Run one scenario end to end; the result and the namespace's settings (to look at what was archived)."""
    description, make_files = SCENARIOS[name]
    settings = ArchiveSettings(namespace=f"mem-{name.split('-')[0]}-{uuid.uuid4().hex[:6]}")
    folder = Path(tempfile.mkdtemp(prefix=f"aa-{name}-"))
    say(f"{name}: {description} — generating the files in {folder}")
    try:
        large = make_files(folder)
        await ensure_topics(settings)
        await upgrade(settings)
        secrets = await ensure_platforms(settings, {PLATFORM: ("通用表单平台", "generic-form/1")})
        procs = local_services.start(settings.namespace, metrics_offset=local_services.free_metrics_offset())
        pids = {p.name: p.pid() for p in procs}
        if any(pid is None for pid in pids.values()):
            raise SystemExit(f"bench: a worker did not start: {pids} (see .stack/logs/)")
        sampler = RssSampler({k: v for k, v in pids.items() if v is not None}, interval=0.2, with_children=True)
        sampler.start()
        try:
            with FileServer() as server:
                [case] = generate_cases(1, seed=4242, wrong_digest_every=None)
                record = case.record.model_copy(update={"case_number": f"{case.record.case_number}-{name}"})
                urls = {}
                for m in record.materials:
                    server.files[m.file_name] = base64.b64decode(m.content_base64 or "")
                    urls[m.file_name] = server.url("files", m.file_name)
                data = render(record, "generic-form/1", lambda m: urls[m.file_name])
                for n, path in enumerate(large, start=1):
                    server.disk[path.name] = path
                    data["attachments"].append({"name": f"现场核查扫描件{n}", "url": server.url("disk", path.name)})
                event = approval_completed_event(case)
                event.update(
                    id=str(uuid.uuid4()),
                    source=f"urn:approval-platform:{PLATFORM}",
                    data=data,
                    subject=f"{PLATFORM}/{record.case_number}/r1",
                )
                await asyncio.sleep(8)  # let the workers join their groups before the clock starts
                total_mib = sum(p.stat().st_size for p in large) / 2**20
                say(f"{name}: publishing the case ({total_mib:.0f} MiB of large files)")
                started = time.monotonic()
                await publish_events(settings, [signed(event, secrets[PLATFORM])])
                outcomes: Outcomes = await await_outcomes(
                    settings,
                    {event["subject"]},
                    timeout=timeout,
                    progress=None,
                )
                seconds = time.monotonic() - started
                peaks = {n: _vm_hwm(pid) / 2**20 for n, pid in pids.items() if pid is not None}
        finally:
            sampler.stop_flag.set()
            local_services.stop(settings.namespace)
        key = event["subject"]
        if key in outcomes.archived:
            outcome, got = "archived", outcomes.archived[key]
        elif key in outcomes.rejected:
            got = outcomes.rejected[key]
            codes = Counter(f["code"] for f in got["data"]["failures"])
            outcome = "rejected: " + ", ".join(c if n == 1 else f"{c} ×{n}" for c, n in sorted(codes.items()))
        elif key in outcomes.dead_lettered:
            outcome, got = "dead-lettered", outcomes.dead_lettered[key]
        else:
            outcome, got = f"no outcome within {timeout:.0f} s", {}
        result = ScenarioResult(
            name=name,
            outcome=outcome,
            seconds=seconds,
            material_bytes=sum(p.stat().st_size for p in large),
            material_sha256={p.name: _sha256_of(p) for p in large},
            peak_mib=peaks,
            tree_mib={n: v / 2**20 for n, v in sampler.peak.items()},
            event=got,
        )
        rss = ", ".join(f"{k} {v:.0f} MiB" for k, v in peaks.items())
        say(f"{name}: {outcome} in {seconds:.0f} s; peak RSS {rss}")
        return result, settings
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not keep_namespace:
            await delete_namespace_topics(settings)


def render_section(results: list[ScenarioResult]) -> str:
    services = list(local_services.PIPELINE)
    names = " ".join(f"--scenario {r.name}" for r in results)
    lines = [
        MARKS[0],
        f"### Peak memory per worker for the largest cases — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `python -m bench.memory {names}`. Machine: {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Target: every worker ≤ {TARGET_MIB} MiB (issue 18). "
        "Worker = the kernel's VmHWM of the service process; in brackets, the largest sampled RSS of the worker "
        "with its child processes (ffmpeg, veraPDF), which a container limit also counts.",
        "",
        "| scenario | large files | outcome | time | " + " | ".join(services) + " |",
        "|---|---:|---|---:|" + "---:|" * len(services),
    ]
    for r in results:
        cells = [f"{r.peak_mib.get(s, float('nan')):.0f} MiB ({r.tree_mib.get(s, float('nan')):.0f})" for s in services]
        head = f"| {r.name} | {r.material_bytes / 2**20:.0f} MiB | {r.outcome} | {r.seconds:.0f} s | "
        lines.append(head + " | ".join(cells) + " |")
    lines.append(MARKS[1])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all three")
    parser.add_argument("--no-record", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    results = [asyncio.run(run_scenario(name))[0] for name in args.scenario or list(SCENARIOS)]
    section = render_section(results)
    print(section)
    if not args.no_record:
        record_section(section, MARKS)
        say(f"recorded in {RESULTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
