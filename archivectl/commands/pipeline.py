"""Commands that run the pipeline on this machine: topics, migrate, services, feed, summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

from archivectl import local_services
from archivectl.feed import publish_events
from archivectl.kafka_admin import ensure_topics
from archivectl.outcomes import await_outcomes, render_summary
from archivectl.platforms import sample_platform_secrets, sign_all
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

FEED_RECORD = local_services.REPO / ".stack" / "feeds"


def _feed_file(settings: ArchiveSettings) -> Path:
    return FEED_RECORD / f"{settings.namespace or 'default'}-last.json"


def _progress(label: str):  # type: ignore[no-untyped-def]
    """Progress on stderr: one line redrawn in place on a terminal; in a log, a line per tenth done."""
    tty = sys.stderr.isatty()
    shown = [-1]

    def show(done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if tty and done != shown[0]:
            shown[0] = done
            print(f"\r  {label}: {done}/{total}", end="", file=sys.stderr, flush=True)
        elif not tty and step != shown[0]:
            shown[0] = step
            print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)

    return show


def cmd_topics(settings: ArchiveSettings, _: argparse.Namespace) -> int:
    created = asyncio.run(ensure_topics(settings))
    print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
    return 0


def cmd_migrate(settings: ArchiveSettings, _: argparse.Namespace) -> int:
    asyncio.run(upgrade(settings))
    print(f"index: database {settings.pg_database} is at the newest schema")
    return 0


def cmd_services(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if args.action == "start":
        for proc in local_services.start(settings.namespace, services=local_services.SERVICES):
            print(
                f"  {proc.name:<15} pid {proc.pid()}  metrics http://127.0.0.1:{proc.metrics_port}/metrics  "
                f"log {proc.log_file.relative_to(local_services.REPO)}"
            )
            if proc.url:
                local_services.wait_http(f"{proc.url}/healthz", proc=proc)
                print(f"  {'':<15} API {proc.url}/docs  dashboard {proc.url}/dashboard")
    elif args.action == "stop":
        local_services.stop(settings.namespace, services=local_services.SERVICES)
        print("services: stopped")
    else:
        for proc, pid in local_services.status(settings.namespace):
            print(f"  {proc.label:<15} {'running pid ' + str(pid) if pid else 'stopped'}")
    return 0


def cmd_feed(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    try:  # imported here: samples/ is a source checkout's, and the production images leave it out
        from samples.generator import approval_completed_event, generate_cases
    except ModuleNotFoundError as missing:
        if missing.name is None or not missing.name.startswith("samples"):
            raise
        print(
            "feed: the sample-case generator (samples/) is not installed here — the production images leave it "
            "out; run `archivectl feed` from a source checkout (`make feed`)",
            file=sys.stderr,
        )
        return 2
    cases = generate_cases(args.count, seed=args.seed)
    # The feed speaks for the sample platforms: registered (if new) with the unified dialect, and signed.
    secrets = asyncio.run(sample_platform_secrets(settings))
    events = sign_all((approval_completed_event(c) for c in cases), secrets)
    show = _progress("published")
    sent = asyncio.run(publish_events(settings, events, progress=lambda n: show(n, len(events))))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    FEED_RECORD.mkdir(parents=True, exist_ok=True)
    _feed_file(settings).write_text(
        json.dumps(
            {
                "cases": [
                    {"case_key": e["subject"], "platform": c.platform, "defect": c.defect}
                    for e, c in zip(events, cases, strict=True)
                ]
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    defects = Counter(c.defect for c in cases if c.defect)
    print(
        f"feed: {sent} cases published to {settings.topic('approval.completed.v1')}"
        + (f" (with deliberate defects: {dict(defects)})" if defects else "")
    )
    return 0


def cmd_summary(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    fed = json.loads(_feed_file(settings).read_text())["cases"]
    expected = {c["case_key"] for c in fed}
    outcomes = asyncio.run(await_outcomes(settings, expected, args.timeout, progress=_progress("cases done")))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(render_summary(outcomes, settings, Counter(c["platform"] for c in fed)))
    if not outcomes.complete:
        print(
            f"\nsummary: {len(outcomes.pending)} cases had no outcome after {args.timeout:.0f}s — "
            "check `archivectl services status` and the logs",
            file=sys.stderr,
        )
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("topics", help="create the v1 topics that are missing").set_defaults(run=cmd_topics)
    sub.add_parser("migrate", help="bring the index database to the newest schema").set_defaults(run=cmd_migrate)
    services = sub.add_parser("services", help="run the four pipeline services and the query service in the background")
    services.add_argument("action", choices=["start", "stop", "status"])
    services.set_defaults(run=cmd_services)
    feed = sub.add_parser("feed", help="publish the deterministic sample cases")
    feed.add_argument("--count", type=int, default=30)
    feed.add_argument("--seed", type=int, default=20261125)
    feed.set_defaults(run=cmd_feed)
    summary = sub.add_parser("summary", help="wait for the last feed's cases and print what happened")
    summary.add_argument("--timeout", type=float, default=180.0)
    summary.set_defaults(run=cmd_summary)
