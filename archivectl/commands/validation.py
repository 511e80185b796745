"""Validation commands: the quarantine of rejected cases (退回整改) and the check catalogue."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from contracts.envelope import utc_now
from services.common.settings import ArchiveSettings
from services.validation.adapters.quarantine import PgQuarantine


def cmd_quarantine(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if args.action == "overdue":
        return asyncio.run(overdue(settings, args.days or settings.rectification_overdue_days, args.platform))

    async def run() -> int:
        # No migration here: listing must not change a schema (the validation service migrates at start).
        quarantine = await PgQuarantine.connect(settings, migrate=False)
        try:
            entries = await quarantine.entries(
                status=None if args.status == "all" else args.status, platform=args.platform
            )
        finally:
            await quarantine.close()
        for e in entries:
            codes = ", ".join(sorted({f.get("code", "?") for f in e.failures}))
            closed = f" → {e.status} by r{e.closed_by_revision}" if e.closed_by_revision else ""
            print(f"{e.opened_at:%Y-%m-%d %H:%M}  {e.case_key:<48} {e.status:<10} {codes}{closed}")
        print(f"{len(entries)} {args.status} quarantine entries in {settings.pg_database}")
        return 0

    return asyncio.run(run())


async def overdue(settings: ArchiveSettings, days: int, platform: str | None, now: datetime | None = None) -> int:
    """Rejected cases with no resubmission for more than `days` days, per platform and department."""
    import asyncpg

    from services.query.adapters.query_store import PgQueryStore, QueueScope
    from services.query.dashboard_data import overdue_summary

    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=2)
    try:
        now = now or utc_now()
        items = await PgQueryStore(pool).overdue_rectifications(
            now=now, days=days, scope=QueueScope(platform_id=platform, departments=frozenset())
        )
    finally:
        await pool.close()
    print(
        f"overdue rectifications: rejected, no resubmission for more than {days} days (as of {now:%Y-%m-%d %H:%M} UTC)"
    )
    for group in overdue_summary(items):
        print(
            f"  {group['source_platform']:<24} {group['department_code']:<12} {group['department_name'] or '':<20} "
            f"{group['cases']:>5} case(s), oldest {group['oldest_days_open']} days"
        )
    for e in items:
        codes = ", ".join(sorted({f.get("code", "?") for f in e["failures"]}))
        print(f"{e['opened_at']:%Y-%m-%d}  {e['days_open']:>4}d  {e['case_key']:<48} {codes}")
    print(f"{len(items)} overdue rectification(s) in {settings.pg_database}")
    return 0


def cmd_checks(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.validation.docs import main

    return main(["--check"] if args.check else [])


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    q = sub.add_parser(
        "quarantine",
        help="list rejected cases waiting for rectification (and their history); `overdue`: the ones nobody "
        "resubmitted within AA_RECTIFICATION_OVERDUE_DAYS",
    )
    q.add_argument("action", nargs="?", choices=["list", "overdue"], default="list")
    q.add_argument("--status", choices=["open", "closed", "superseded", "resolved", "all"], default="open")
    q.add_argument("--platform")
    q.add_argument("--days", type=int, help="overdue: after this many days (default: the setting, 15)")
    q.set_defaults(run=cmd_quarantine)
    c = sub.add_parser("checks", help="write docs/checks.md from the check catalogue (--check: verify only)")
    c.add_argument("--check", action="store_true")
    c.set_defaults(run=cmd_checks)
