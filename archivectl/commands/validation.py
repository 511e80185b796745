"""Validation commands: the quarantine of rejected cases (退回整改) and the check catalogue."""

from __future__ import annotations

import argparse
import asyncio

from services.common.settings import ArchiveSettings
from services.validation.adapters.quarantine import PgQuarantine


def cmd_quarantine(settings: ArchiveSettings, args: argparse.Namespace) -> int:
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


def cmd_checks(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.validation.docs import main

    return main(["--check"] if args.check else [])


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    q = sub.add_parser("quarantine", help="list rejected cases waiting for rectification (and their history)")
    q.add_argument("--status", choices=["open", "closed", "superseded", "all"], default="open")
    q.add_argument("--platform")
    q.set_defaults(run=cmd_quarantine)
    c = sub.add_parser("checks", help="write docs/checks.md from the check catalogue (--check: verify only)")
    c.add_argument("--check", action="store_true")
    c.set_defaults(run=cmd_checks)
