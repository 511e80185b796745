"""`archivectl import DIR --catalogue FILE`: digitised paper into the archive (docs/lifecycle.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

from archivectl.legacy_import import DEFAULT_DIALECT, DEFAULT_RATE, ImportOptions, run_import, write_report
from services.capture.dialect import load_dialects
from services.common.settings import ArchiveSettings


def cmd_import(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    directory, catalogue = Path(args.directory), Path(args.catalogue)
    if not directory.is_dir():
        print(f"import: {directory} is not a folder", file=sys.stderr)
        return 2
    if not catalogue.is_file():
        print(f"import: no catalogue {catalogue}", file=sys.stderr)
        return 2
    options = ImportOptions(
        directory=directory,
        catalogue=catalogue,
        dialect=args.mapping,
        rate=args.rate,
        wait_seconds=args.wait,
        progress_disable=args.no_progress,
    )
    try:
        results = asyncio.run(run_import(settings, options, load_dialects()))
    except ValueError as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 2
    report = Path(args.report) if args.report else directory / "import-report.csv"
    with report.open("w", encoding="utf-8-sig", newline="") as fh:  # with BOM: Excel reads it as UTF-8
        write_report(results, fh)
    counts = Counter(r.outcome for r in results)
    skipped = sum(1 for r in results if r.this_run.startswith("skipped"))
    print(
        f"import: {len(results)} row(s): {counts['archived']} archived ({skipped} of them already before this run), "
        f"{counts['rejected']} rejected, {counts['dead-letter']} dead-lettered, {counts['pending']} without an "
        f"outcome yet. Report: {report}"
    )
    if counts["pending"]:
        print("import: run it again later: archived rows are skipped, the others are retried", file=sys.stderr)
    return 1 if counts["pending"] else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="import digitised paper: a catalogue (xlsx or CSV, one row per case) and a folder of scans per case",
    )
    p.add_argument("directory", metavar="DIR", help="the folder holding each case's folder of scans")
    p.add_argument("--catalogue", required=True, metavar="FILE", help="the catalogue spreadsheet (.xlsx or .csv)")
    p.add_argument(
        "--mapping",
        default=DEFAULT_DIALECT,
        help=f"the mapping (dialect) of the catalogue's columns, services/capture/dialects (default {DEFAULT_DIALECT})",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"cases sent per second at most, so that live platforms are not starved (default {DEFAULT_RATE:g})",
    )
    p.add_argument("--wait", type=float, default=600.0, help="seconds to wait for outcomes after the last row was sent")
    p.add_argument("--report", help="where the CSV report goes (default DIR/import-report.csv)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_import)
