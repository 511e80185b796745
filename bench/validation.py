"""Validation throughput per worker, on a realistic mix: a decision PDF and a 200-dpi scanned JPEG per case.

    python -m bench.validation --cases 200 [--no-record]

In a namespace of its own it stages the cases' files in MinIO, then runs the validation step in this one
process — exactly what one validation worker does per event, with the real MinIO, clamd and PostgreSQL
(quarantine and case-number registry). Two passes, on cases of their own: one case after another, which
the breakdown comes from, then as the worker runs them (its in-flight window, AA_IN_FLIGHT_MAX_INPUTS
cases at once), which is the figure per worker. The breakdown says where the time goes: reading the files
back, measuring them (digests, parsing, image analysis), the virus scan, the registry, and the catalogue.
Kafka is left out: the pipeline benchmark (bench/pipeline.py) has it.
Results go to docs/benchmarks.md between the validation markers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from contracts.v1 import CapturedCase, CapturedEvent, Stage, topics
from samples.generator import generate_cases
from samples.staging import stage_files
from services.common.adapters.object_store import MinioObjectStore
from services.common.allocator import pin_malloc_thresholds
from services.common.in_flight import Admission
from services.validation import formats, steps
from services.validation.adapters.clamav import ClamdClient
from services.validation.adapters.quarantine import PgQuarantine
from services.validation.adapters.trust_anchors import CachedTrustAnchors, PgTrustAnchors
from services.validation.adapters.verapdf import VeraPdfClient
from services.validation.bootstrap import build
from services.validation.checks import CATALOGUE
from services.validation.config import ValidationSettings
from services.validation.formats import page_images
from services.validation.formats import pdf as pdf_reader
from services.validation.rules import RuleBook

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "benchmarks.md"
MARK_BEGIN, MARK_END = "<!-- bench:validation:begin -->", "<!-- bench:validation:end -->"


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


class Timer:
    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)

    def wrap_async(self, name, fn):  # type: ignore[no-untyped-def]
        async def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.total[name] += time.perf_counter() - start

        return timed

    def wrap(self, name, fn):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total[name] += time.perf_counter() - start

        return timed


async def stage(settings: ValidationSettings, store: MinioObjectStore, count: int) -> list[CapturedEvent]:
    say(f"generating {count} cases (decision PDF + scanned JPEG each) and staging their files in MinIO…")
    await store.ensure_bucket(settings.staging_bucket)
    events = []
    # Market-regulation and transport cases: their archiving scope is exactly an application and a result,
    # so a decision PDF plus the scanned JPEG is a complete case (construction permits also need a review
    # sheet, a third file).
    samples = [
        s
        for s in generate_cases(count * 3 // 2 + 3, seed=9090, wrong_digest_every=None)
        if s.platform != "construction-permit"
    ][:count]
    for n, sample in enumerate(samples, start=1):
        record = sample.record
        keep = [m for m in record.materials if m.stage is Stage.RESULT or m.file_name.endswith(".jpg")]
        files = await stage_files(store, settings.staging_bucket, record, keep)
        case = CapturedCase(
            case=record.metadata(), files=files, source_event_id=str(uuid.uuid4()), captured_at=datetime.now(UTC)
        )
        events.append(
            CapturedEvent(
                id=str(uuid.uuid4()),
                source="urn:bench",
                type=topics.CAPTURED,
                time=datetime.now(UTC),
                subject=record.case_key,
                correlationid=record.case_number,
                data=case,
            )
        )
        if n % 50 == 0 or n == count:
            say(f"  staged {n}/{count}")
    return events


async def run(count: int, record_results: bool) -> None:
    namespace = f"bv{uuid.uuid4().hex[:8]}"
    settings = ValidationSettings(namespace=namespace)
    pin_malloc_thresholds(
        settings.malloc_mmap_threshold_bytes, settings.malloc_trim_threshold_bytes
    )  # as the worker's run_worker does
    store = MinioObjectStore.from_settings(settings)
    # Two passes, each on cases of its own: one after another (the breakdown), then as the worker runs them.
    events = await stage(settings, store, 2 * count)
    serial_events, window_events = events[:count], events[count:]
    quarantine = await PgQuarantine.connect(settings)
    scanner = ClamdClient(settings.clamd_host, settings.clamd_port)
    if not await scanner.ping():
        raise SystemExit(f"clamd does not answer on {settings.clamd_host}:{settings.clamd_port}: `make stack-up`")
    rules = RuleBook.load()
    timer = Timer()
    store_t = MinioObjectStore.from_settings(settings)
    store_t.get_into = timer.wrap_async("read files back (MinIO)", store_t.get_into)  # type: ignore[method-assign]
    scanner.scan = timer.wrap_async("virus scan (clamd INSTREAM)", scanner.scan)  # type: ignore[method-assign]
    quarantine.claim_case_number = timer.wrap_async(  # type: ignore[method-assign]
        "case-number registry (PostgreSQL)", quarantine.claim_case_number
    )
    quarantine.close_earlier = timer.wrap_async(  # type: ignore[method-assign]
        "quarantine update (PostgreSQL)", quarantine.close_earlier
    )
    original_measure, original_verdict = steps.measure, steps.verdict
    steps.measure = timer.wrap("measure: digests, parse, image analysis", original_measure)  # type: ignore[assignment]
    steps.verdict = timer.wrap(f"run the catalogue ({len(CATALOGUE)} checks)", original_verdict)  # type: ignore[assignment]
    trust = CachedTrustAnchors(PgTrustAnchors(quarantine.pool), settings.trust_anchors_ttl_seconds)
    trust.for_platform = timer.wrap_async("trust anchors (cached per platform)", trust.for_platform)  # type: ignore[method-assign]
    pdfa = VeraPdfClient(settings.verapdf_url, timeout=settings.verapdf_timeout_seconds)
    pdfa.validate = timer.wrap_async("PDF/A (veraPDF, declared PDF/A only)", pdfa.validate)  # type: ignore[method-assign]
    # Inside `measure`, the parts that feed the deeper checks (issue 12): each is timed where it is called.
    parts = [
        (formats, "identify_pronom", "└ formats by PRONOM (FIDO) → USAB-FORMAT"),
        (formats, "inspect_pdf", "└ PDF: parse, content walk, page images, signatures"),
        (pdf_reader, "page_content", "  └ PDF content walk (CTM, vector seals) → INTEG-SEAL-RED, USAB-SCAN-DPI"),
        (formats, "inspect_image", "└ image files: decode and scan measures"),
        (page_images, "sharpness", "  └ sharpness (Laplacian over tiles) → USAB-SCAN-BLUR"),
        (page_images, "chroma", "  └ colour from chroma → USAB-SCAN-COLOUR"),
        (page_images, "raster_seals", "  └ seal shapes in scans (components, ring) → INTEG-SEAL-RED"),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in parts]
    for module, name, label in parts:
        setattr(module, name, timer.wrap(label, getattr(module, name)))
    # The step as the worker has it: built by the composition root, on the timed adapters.
    service = await build(
        settings, store=store_t, scanner=scanner, quarantine=quarantine, rules=rules, trust_anchors=trust, pdfa=pdfa
    )
    validate, weigh = service.step, service.weigh or (lambda _: 0)
    window = settings.in_flight_max_inputs
    outcomes: dict[str, int] = defaultdict(int)

    async def one(event: CapturedEvent, n: int, start: float, admitted: Admission | None = None) -> None:
        async with admitted.hold(weigh(event)) if admitted else contextlib.nullcontext():
            [out] = await validate(event)
        outcomes[out.topic] += 1
        if n % 25 == 0 or n == count:
            say(f"  {n}/{count} ({n / (time.perf_counter() - start):.1f} cases/s)")

    try:
        say("warm-up: 5 cases")
        for event in serial_events[:5]:
            await validate(event)
        timer.total.clear()
        say(f"validating {count} cases one after another (where the time goes)…")
        start, cpu_start = time.perf_counter(), time.process_time()
        for n, event in enumerate(serial_events, start=1):
            await one(event, n, start)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        serial_timings = dict(timer.total)
        say(f"validating {count} cases as one worker does: up to {window} in flight (AA_IN_FLIGHT_MAX_INPUTS)…")
        # The worker's window (services/common/in_flight.py) for distinct cases: the same count and scratch
        # budget, the same `weigh`; the step's own `measuring` admits files as the worker's does.
        admitted = Admission(settings.in_flight_max_scratch_bytes, window)
        start, cpu_start = time.perf_counter(), time.process_time()
        async with asyncio.TaskGroup() as group:
            for n, event in enumerate(window_events, start=1):  # each waits for its place in the window
                group.create_task(one(event, n, start, admitted))
        window_elapsed, window_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        steps.measure, steps.verdict = original_measure, original_verdict
        for module, name, fn in originals:
            setattr(module, name, fn)
        await quarantine.close()
    rate, window_rate = count / elapsed, count / window_elapsed
    load = os.getloadavg()[0]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores (load average {load:.1f} at the"
        f" end), {count} cases per pass (a decision PDF of 1–2 pages with a vector seal + a 200-dpi A4 scanned JPEG"
        f" of ~190 KB each), command `python -m bench.validation --cases {count}`:",
        "",
        f"- **{window_rate:.1f} cases/s per validation worker** as the worker runs them, up to {window} cases in"
        f" flight ({1000 / window_rate:.0f} ms per case, CPU {window_cpu / count * 1000:.0f} ms per case in this"
        " process);",
        f"- {rate:.1f} cases/s one case after another ({1000 / rate:.0f} ms per case, CPU"
        f" {cpu / count * 1000:.0f} ms per case) — the pass the table below breaks down;",
        "- outcomes of both passes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
        "",
        "| where the time goes (one after another) | ms per case | share |",
        "|---|---:|---:|",
    ]
    top = {k: v for k, v in serial_timings.items() if not k.lstrip().startswith("└")}
    for name, seconds in sorted(top.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {seconds / count * 1000:.1f} | {seconds / elapsed:.0%} |")
        if name.startswith("measure"):
            for label in (label for _, _, label in parts if label in serial_timings):
                part = serial_timings[label]
                lines.append(f"| {label} | {part / count * 1000:.1f} | {part / elapsed:.0%} |")
    lines += [
        "",
        "The image analysis (JPEG decoded reduced in the DCT, Laplacian sharpness over content tiles, seal shapes)"
        " and PRONOM"
        " identification dominate `measure` (the └ rows are parts of the row above them); clamd's scan runs"
        " in its own process, so a worker spends that time waiting, and"
        " workers scale with cores until clamd's CPU (shared) is the limit.",
    ]
    lines += ["", *(await deeper_checks(pdfa))]
    text = "\n".join(lines)
    print(text)
    if record_results:
        record(text)


async def deeper_checks(pdfa: VeraPdfClient, repeat: int = 10) -> list[str]:
    """The issue-12 checks on the material they look at (the mix above has none of it): a signed PDF
    (pyHanko: signature, certificate chain, difference analysis), a sealed OFD (Signatures.xml, SM3 of the
    protected files) and a PDF that declares PDF/A (one veraPDF request)."""
    import base64

    from samples.defects import ofd_document
    from samples.signatures import declare_pdfa, sample_ca_der, sealed_ofd, signed_pdf
    from services.validation.formats import TrustAnchors, inspect

    record = generate_cases(1, seed=9090, wrong_digest_every=None)[0].record
    pdf = next(base64.b64decode(m.content_base64 or "") for m in record.materials if m.file_name.endswith(".pdf"))
    anchors = TrustAnchors("bench", (sample_ca_der(),))
    signed = await asyncio.to_thread(signed_pdf, pdf)  # pyHanko signs through asyncio.run: not in this loop
    material = {
        "signed PDF: inspect with pyHanko verification + diff analysis": (signed, anchors),
        "the same PDF unsigned: inspect": (pdf, anchors),
        "sealed OFD: inspect with Signatures.xml + SM3 of protected files": (sealed_ofd(ofd_document(2)), anchors),
    }
    out = ["| deeper check, on its own material | ms per file |", "|---|---:|"]

    def per_file(data: bytes, trust: TrustAnchors) -> float:  # in a thread, as the step measures files
        start = time.perf_counter()
        for _ in range(repeat):
            inspect(data, trust=trust)
        return (time.perf_counter() - start) / repeat * 1000

    for name, (data, trust) in material.items():
        out.append(f"| {name} | {await asyncio.to_thread(per_file, data, trust):.1f} |")
    claimed = declare_pdfa(pdf)
    start = time.perf_counter()
    for _ in range(repeat):
        await pdfa.validate(claimed, "1b")
    out.append(
        f"| PDF/A-1b by veraPDF (one loopback request to the long-lived JVM) | "
        f"{(time.perf_counter() - start) / repeat * 1000:.1f} |"
    )
    return out


def record(text: str) -> None:
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    block = f"{MARK_BEGIN}\n## Validation throughput per worker (bench/validation.py)\n\n{text}\n{MARK_END}"
    if MARK_BEGIN in current and MARK_END in current:
        head, rest = current.split(MARK_BEGIN, 1)
        _, tail = rest.split(MARK_END, 1)
        updated = head + block + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(updated, encoding="utf-8")
    say(f"recorded in {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    asyncio.run(run(args.cases, not args.no_record))


if __name__ == "__main__":
    main()
