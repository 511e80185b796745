"""Commands on the archival packages and their index: rebuild the index from the bucket, audit (and repair)
the fixity of every copy, restore-test packages from the replica, search the index. docs/packages.md
describes the packages these commands read."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from datetime import date, timedelta

import asyncpg

from contracts.envelope import utc_now
from services.common.adapters.object_store import MinioObjectStore
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.storage.adapters.index import PgIndex


class ProgressBar:
    """`label [#########.........] 12/27  3.1/s` on stderr, redrawn in place on a terminal; in a log, a
    line per tenth done."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label, self.width = label, width
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if not self.tty and tenth == self.shown:
            return
        self.shown = tenth
        filled = self.width * done // max(total, 1)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        line = f"  {self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}  {rate:.1f}/s"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and self.shown >= 0:
            print(file=sys.stderr)


def _replica(settings: ArchiveSettings) -> MinioObjectStore | None:
    """The second site's store (None when the deployment has none), answering at once on a 5xx."""
    if not settings.minio_replica_endpoint:
        return None
    return MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


# --- index rebuild / search ----------------------------------------------------------------------------


async def _rebuild(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.storage.rebuild import rebuild_index

    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    replica = _replica(settings)
    index = await PgIndex.connect(settings)
    bar = ProgressBar("packages read")
    try:
        print(f"index rebuild: reading every package in bucket {settings.archive_bucket} …", file=sys.stderr)
        report = await rebuild_index(
            store,
            index,
            settings.archive_bucket,
            replica=replica,
            progress=bar,
            skip_unreadable=args.skip_unreadable,
            include_legacy_loss=args.drop_legacy,
        )
    finally:
        bar.close()
        await index.close()
    if report.legacy and not args.drop_legacy:
        return _fail(
            f"{len(report.legacy)} packages of the earlier layout (a bag as objects under a prefix, e.g. "
            f"{report.legacy[0]}) are in the bucket; the rebuild reads only single-object packages, so their "
            "records would leave the index. The index was NOT replaced. Rerun with --drop-legacy to accept that."
        )
    if report.skipped:
        print(
            f"  {len(report.skipped)} objects are not packages of this layout and were ignored, e.g. "
            f"{report.skipped[0]}",
            file=sys.stderr,
        )
    if report.shadowed:
        print(
            f"  warning: {len(report.shadowed)} package keys have a later version or delete marker that the "
            f"archive did not write (the archived version was indexed): {', '.join(report.shadowed[:5])}",
            file=sys.stderr,
        )
    for taken in report.from_replica:
        print(
            f"  taken from the replica (the primary copy is damaged; `archivectl fixity repair`): {taken}",
            file=sys.stderr,
        )
    print("\n".join(f"  {u}" for u in report.unreadable), file=sys.stderr)
    if report.unreadable and not args.skip_unreadable:
        return _fail(
            f"{len(report.unreadable)} packages could not be read, so the index was NOT replaced; run "
            "`archivectl fixity audit --all` to see why, or rerun with --skip-unreadable to index the rest"
        )
    print(
        f"index rebuild: {report.indexed} packages indexed in database {settings.pg_database}"
        + (f" ({len(report.unreadable)} unreadable skipped)" if report.unreadable else "")
    )
    return 0


def cmd_index(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if args.action == "rebuild":
        return asyncio.run(_rebuild(settings, args))
    return asyncio.run(_search(settings, args))


async def _search(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    """The query API's search (services/query/search.py), with the console's full scope."""
    from services.query.access import console_caller
    from services.query.search import BadCursor, SearchFilters, search_records

    filters = SearchFilters(
        text=args.text,
        item_code=args.item,
        department_code=args.department,
        applicant_id_number=args.applicant_id,
        completed_from=args.completed_from,
        completed_to=args.completed_to,
        retention=args.retention,
        category_code=args.category,
        limit=args.limit,
        cursor=args.cursor,
    )
    await upgrade(settings)
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        page = await search_records(conn, filters, console_caller(getpass.getuser()))
    except BadCursor as exc:
        print(f"error: {exc}; start again without --cursor", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    for r in page.rows:
        print(
            f"{r['archival_code']:<32} {r['completed_at']:%Y-%m-%d}  {r['retention']:<4} {r['case_title']}  "
            f"({r['applicant_name']})"
        )
    more = f"; more with --cursor {page.next_cursor}" if page.next_cursor else ""
    print(f"{len(page.rows)} records shown, newest first{more}", file=sys.stderr)
    return 0


# --- fixity ------------------------------------------------------------------------------------------


async def _audit(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.common.producer import KafkaPublisher
    from services.storage import fixity

    checked_before = None if args.all else utc_now() - timedelta(days=args.older_than)
    index = await PgIndex.connect(settings)
    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    publisher = KafkaPublisher(settings)
    repair = args.action == "repair"
    replica = _replica(settings)
    bar = ProgressBar("packages audited")
    try:
        if repair and replica is not None:
            # A replica site added to a one-site archive may not have the bucket yet (the storage worker
            # makes it when it starts): the repair writes the missing copies into it, locked.
            await replica.ensure_bucket(settings.archive_bucket, object_lock=True)
        due = await index.packages_for_audit(checked_before=checked_before, limit=args.limit)
        scope = "(all)" if args.all else f"not checked for {args.older_than:g} days"
        print(f"fixity audit: {len(due)} packages {scope} in bucket {settings.archive_bucket}", file=sys.stderr)
        report = await fixity.audit(
            due,
            store=store,
            replica=replica,
            repair=repair,
            index=index,
            publisher=publisher,
            topic_name=settings.topic,
            progress=bar,
        )
    finally:
        bar.close()
        await publisher.close()
        await index.close()
    for failed in report.failed:
        print(
            f"  FAILED {failed.archival_code}  {failed.case_key}  {failed.package_key}  ({failed.copy} copy)\n"
            f"         {failed.reason}"
        )
    for repaired in report.repaired:
        print(f"  REPAIRED {repaired}")
    for lost in report.lost:
        print(f"  LOST {lost}: no intact copy at any site — the loss alarm is raised")
    damaged = {r.case_key for r in report.failed}
    advice = ""
    if damaged - set(report.lost) and not repair:
        advice = "; `archivectl fixity repair` rewrites each bad copy from the intact one"
    print(
        f"fixity audit: {report.packages} packages checked ({len(report.results)} copies), "
        f"{report.packages - len(damaged)} intact, {len(damaged) - len(report.lost)} with a bad copy, "
        f"{len(report.repaired)} copies repaired, {len(report.lost)} lost"
        + (f" — published to {settings.topic('archive.fixity.failed.v1')}{advice}" if report.failed else "")
    )
    if report.lost:
        return 3
    return 2 if report.failed and not repair else 0


def cmd_fixity(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_audit(settings, args))


# --- restore test ------------------------------------------------------------------------------------


async def _restore_test(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.storage import restore_test

    replica = _replica(settings)
    if replica is None:
        return _fail("no replica is configured (AA_MINIO_REPLICA_ENDPOINT is empty): nothing to restore from")
    index = await PgIndex.connect(settings)
    try:
        results = await restore_test.run(
            replica=replica, index=index, sample=args.sample, scratch=Path(args.scratch) if args.scratch else None
        )
    finally:
        await index.close()
    for r in results:
        print(
            f"  {'ok    ' if r.passed else 'FAILED'} {r.case_key}  {r.seconds:.2f}s"
            + (f"  {r.reason}" if r.reason else "")
        )
    failed = sum(1 for r in results if not r.passed)
    print(
        f"restore test: {len(results)} packages restored from the replica, {len(results) - failed} valid, "
        f"{failed} failed"
    )
    return 2 if failed else 0


def cmd_restore_test(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_restore_test(settings, args))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    index = sub.add_parser("index", help="the PostgreSQL index: rebuild it from the packages, or search it")
    actions = index.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = actions.add_parser("rebuild", help="re-create records, files, events and archival codes from the bucket")
    rebuild.add_argument("--skip-unreadable", action="store_true", help="index the readable packages even if some fail")
    rebuild.add_argument(
        "--drop-legacy", action="store_true", help="rebuild even though prefix-layout bags will leave the index"
    )
    rebuild.set_defaults(run=cmd_index)
    search = actions.add_parser("search", help="search archived records (titles and names in Chinese, filters)")
    search.add_argument("text", nargs="?", help="part of a case title, applicant name or archival code")
    search.add_argument("--item", help="approval item code")
    search.add_argument("--department", help="accepting department code")
    search.add_argument("--applicant-id", help="applicant's id number (USCC or resident id)")
    search.add_argument("--completed-from", type=date.fromisoformat, help="ISO date (China time), inclusive")
    search.add_argument("--completed-to", type=date.fromisoformat, help="ISO date (China time), inclusive")
    search.add_argument("--retention", choices=["Y", "D30", "D10"])
    search.add_argument("--category", help="category code, e.g. XK")
    search.add_argument("--limit", type=int, default=20, help="records per page (at most 200)")
    search.add_argument("--cursor", help="the next page of the same search (printed after each page)")
    search.set_defaults(run=cmd_index)

    fixity = sub.add_parser("fixity", help="fixity of the stored packages")
    fixity_actions = fixity.add_subparsers(dest="action", required=True, metavar="ACTION")
    audit = fixity_actions.add_parser("audit", help="re-read packages, recompute digests, record and alert")
    which = audit.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every package (default: --older-than 30)")
    which.add_argument(
        "--older-than",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="packages whose last check is older than DAYS (never-checked ones included)",
    )
    audit.add_argument("--limit", type=int, default=None, help="at most this many packages")
    audit.set_defaults(run=cmd_fixity)
    repair = fixity_actions.add_parser(
        "repair", help="audit every copy, and rewrite a bad copy from the intact one (a new locked version)"
    )
    repair.add_argument("--all", action="store_true", help="every package (default: --older-than 0: all)")
    repair.add_argument("--older-than", type=float, default=0.0, metavar="DAYS", help=argparse.SUPPRESS)
    repair.add_argument("--limit", type=int, default=None, help="at most this many packages")
    repair.set_defaults(run=cmd_fixity)

    restore = sub.add_parser(
        "restore-test", help="restore random packages from the replica alone, validate them with bagit-python"
    )
    restore.add_argument("--sample", type=int, default=5, help="how many packages (picked at random)")
    restore.add_argument("--scratch", default=None, help="folder for the scratch area (default: the temp folder)")
    restore.set_defaults(run=cmd_restore_test)
