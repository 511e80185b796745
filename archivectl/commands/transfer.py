"""Transfer to the state archives (`archivectl transfer create|accept|list`) and the four-property re-check
of stored packages at preservation time (`archivectl revalidate`). docs/lifecycle.md describes both."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import timedelta
from pathlib import Path

from archivectl.commands.packages import ProgressBar, _fail, _replica
from contracts.envelope import utc_now
from services.common.adapters.object_store import MinioObjectStore
from services.common.settings import ArchiveSettings
from services.storage.adapters.index import PgIndex
from services.storage.config import StorageSettings
from services.validation.recheck import RuleBook, load_rules


def _rules() -> RuleBook:
    """The item rules formats are judged by: AA_ITEM_RULES_FILE, as the validation and storage workers read it."""
    return load_rules(StorageSettings().item_rules_file)


async def _create(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.storage import transfer

    selection = transfer.Selection(
        year=args.year,
        retention=args.retention,
        category_code=args.category,
        department_code=args.department,
        limit=args.limit,
    )
    index = await PgIndex.connect(settings)
    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    bar = ProgressBar("packages checked")
    try:
        report = await transfer.create(
            selection,
            out=Path(args.out),
            store=store,
            replica=_replica(settings),
            index=index,
            receiver=args.receiver,
            transferring_unit=args.transferring_unit or f"approval-archive 全宗 {settings.fonds_code}",
            created_by=args.by or getpass.getuser(),
            rules=_rules(),
            progress=bar,
        )
    finally:
        bar.close()
        await index.close()
    for x in report.excluded:
        print(f"  EXCLUDED {x.archival_code}  {x.case_key}: {x.reason}")
    if report.register is None:
        what = ", ".join(f"{k}={v}" for k, v in selection.as_dict().items()) or "no filter"
        if not report.selected:
            return _fail(f"no record that is not transferred yet matches ({what}): no transfer set written")
        return _fail(f"every one of the {report.selected} selected records failed its re-check: no set written")
    r = report.register
    print(
        f"transfer set {r.set_id}: {r.record_count} records, {r.file_count} files, {r.volume_gb} GB, "
        f"written to {report.path} (validated with bagit-python); {len(report.excluded)} excluded. "
        f"When {r.receiver} acknowledges it: archivectl transfer accept {r.set_id} --reference …"
    )
    return 2 if report.excluded else 0


async def _accept(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.storage import transfer

    index = await PgIndex.connect(settings)
    try:
        row = await transfer.accept(
            args.set_id, index=index, accepted_by=args.by or getpass.getuser(), acknowledgement=args.reference
        )
    except transfer.TransferRefused as exc:
        return _fail(str(exc))
    finally:
        await index.close()
    print(
        f"transfer set {row['set_id']} accepted by {row['receiver']} ({row['acknowledgement']}): closed; "
        f"{row['record_count']} records transferred, the centre keeps its copy until {row['keep_until']:%Y-%m-%d}"
    )
    return 0


async def _list(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    index = await PgIndex.connect(settings)
    try:
        sets = await index.transfer_sets()
    finally:
        await index.close()
    for s in sets:
        closed = (
            f"accepted {s['accepted_at']:%Y-%m-%d}, kept until {s['keep_until']:%Y-%m-%d}"
            if s["accepted_at"]
            else "open"
        )
        print(
            f"{s['set_id']}  {s['created_at']:%Y-%m-%d}  {s['record_count']:>6} records  {s['total_bytes']:>14} bytes  "
            f"→ {s['receiver']}  {closed}  {s['location']}"
        )
    print(f"{len(sets)} transfer sets")
    return 0


def cmd_transfer(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    run = {"create": _create, "accept": _accept, "list": _list}[args.action]
    return asyncio.run(run(settings, args))


async def _revalidate(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    from services.storage import revalidation

    checked_before = None if args.all else utc_now() - timedelta(days=args.older_than)
    index = await PgIndex.connect(settings)
    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    bar = ProgressBar("packages re-checked")
    try:
        due = await index.packages_for_revalidation(checked_before=checked_before, limit=args.limit)
        results = await revalidation.run(
            due, store=store, replica=_replica(settings), index=index, rules=_rules(), progress=bar
        )
    finally:
        bar.close()
        await index.close()
    for r in results:
        if not r.passed:
            print(f"  FAILED {r.archival_code}  {r.case_key}  fixity {r.fixity}, format {r.format}, opens {r.opens}")
            print(f"         {r.reason}")
    failed = sum(1 for r in results if not r.passed)
    print(
        f"re-check at preservation time: {len(results)} packages checked, {len(results) - failed} pass, {failed} fail"
    )
    return 2 if failed else 0


def cmd_revalidate(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_revalidate(settings, args))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("transfer", help="transfer sets to the state archives (移交): create, accept, list")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="select records, re-check their packages, write a BagIt transfer set with its register"
    )
    create.add_argument("--out", required=True, metavar="DIR", help="folder the set's folder is written in")
    create.add_argument("--receiver", required=True, help="the receiving archive, e.g. 某市档案馆")
    create.add_argument("--year", type=int, help="the archival code's year (归档年度)")
    create.add_argument("--retention", choices=["Y", "D30", "D10"], default="Y", help="default Y (permanent)")
    create.add_argument("--category", help="category code, e.g. XK")
    create.add_argument("--department", help="accepting department code")
    create.add_argument("--limit", type=int, default=None, help="at most this many records (by archival code)")
    create.add_argument("--transferring-unit", default=None, help="default: approval-archive 全宗 <fonds code>")
    create.add_argument("--by", default=None, help="who makes the set (default: the login name)")
    create.set_defaults(run=cmd_transfer)
    accept = actions.add_parser("accept", help="record the receiving archive's acknowledgement; closes the set")
    accept.add_argument("set_id", metavar="SET")
    accept.add_argument("--reference", required=True, help="the receiver's acknowledgement (number, letter)")
    accept.add_argument("--by", default=None, help="who records it (default: the login name)")
    accept.set_defaults(run=cmd_transfer)
    listing = actions.add_parser("list", help="the transfer sets, newest first")
    listing.set_defaults(run=cmd_transfer)

    revalidate = sub.add_parser(
        "revalidate", help="re-check stored packages: fixity, format still accepted, file still opens (DA/T 70)"
    )
    which = revalidate.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every package (default: --older-than 365)")
    which.add_argument(
        "--older-than",
        type=float,
        default=365.0,
        metavar="DAYS",
        help="packages whose last re-check is older than DAYS (never-checked ones included)",
    )
    revalidate.add_argument("--limit", type=int, default=None, help="at most this many packages")
    revalidate.set_defaults(run=cmd_revalidate)
