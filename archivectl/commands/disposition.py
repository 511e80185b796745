"""Disposition at the end of retention (docs/lifecycle.md, "Disposition"): the records due, the appraisal
decision on each (extend, keep permanently, destroy), the second person's approval of a destruction,
execution, and legal holds that block destruction.

Every step that changes something names its API key (`--key`, or the environment variable AA_API_KEY):
the key's role must have the step's permission (docs/access.md), the two-person rule compares the
proposer's and the approver's keys, and each step is a row of the audit log."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.adapters.object_store import MinioObjectStore
from services.common.index.migrate import upgrade
from services.common.producer import KafkaPublisher
from services.common.settings import ArchiveSettings
from services.query.access import Caller, Permission
from services.query.adapters.api_keys import PgApiKeys
from services.query.adapters.audit_log import AuditEntry, PgAuditLog
from services.query.routes.present import jsonable
from services.storage import disposal
from services.storage.adapters.disposition_store import PgDispositionStore
from services.storage.copies import PRIMARY, REPLICA
from services.storage.disposition import Actor, Decision, DispositionRefused


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


class Refused(Exception):
    pass


async def _pool(settings: ArchiveSettings) -> asyncpg.Pool:
    await upgrade(settings)
    return await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=4)


async def _caller(pool: asyncpg.Pool, args: argparse.Namespace, *permissions: Permission) -> Caller:
    key = args.key or os.environ.get("AA_API_KEY")
    if not key:
        raise Refused("this step needs an API key: --key aa_… or AA_API_KEY (docs/access.md)")
    check = await PgApiKeys(pool).check(key)
    if check.caller is None:
        raise Refused(check.reason or "the API key is not valid")
    if not any(check.caller.may(p) for p in permissions):
        names = " or ".join(p.value for p in permissions)
        raise Refused(f"role {check.caller.role} lacks permission {names} (key {check.caller.key_id})")
    return check.caller


def _actor(caller: Caller) -> Actor:
    return Actor(caller.key_id, caller.name, caller.role.value)


async def _audit(
    pool: asyncpg.Pool, caller: Caller, action: str, target: str, detail: dict[str, Any], status: int = 200
) -> None:
    await PgAuditLog(pool).append(
        AuditEntry(
            action=action,
            status=status,
            key_id=caller.key_id,
            principal=caller.name,
            role=caller.role.value,
            method="CLI",
            path=f"archivectl {action.replace('.', ' ')}",
            target=target,
            detail=jsonable(detail),
        )
    )


def _sites(settings: ArchiveSettings) -> tuple[MinioObjectStore, MinioObjectStore | None, list[disposal.DisposalSite]]:
    store = MinioObjectStore.from_settings(settings)
    replica = MinioObjectStore.from_settings(settings, site="replica") if settings.minio_replica_endpoint else None
    sites = [disposal.DisposalSite(PRIMARY, store)]
    if replica is not None:
        sites.append(disposal.DisposalSite(REPLICA, replica))
    return store, replica, sites


def _print(rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str]) -> None:
    if as_json:
        print(json.dumps(jsonable(list(rows)), ensure_ascii=False, indent=2))
        return
    for row in rows:
        print("  ".join(str(jsonable(row.get(c)) if row.get(c) is not None else "-") for c in columns))


DECISION_COLUMNS = (
    "id",
    "case_key",
    "decision",
    "status",
    "retention_before",
    "retention_after",
    "proposed_by",
    "approved_by",
    "reason",
)

# --- disposition -----------------------------------------------------------------------------------------


async def _disposition(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    pool = await _pool(settings)
    store = PgDispositionStore(pool)
    now = datetime.now(UTC)
    try:
        if args.action == "due":
            at = datetime.fromisoformat(args.as_of).astimezone(UTC) if args.as_of else now
            rows = await disposal.due(store, at, limit=args.limit)
            for row in rows:
                row["held"] = ", ".join(f"#{h['hold_id']} {h['reference']}" for h in row["holds"]) or None
                row["proposal"] = (
                    f"#{row['pending']['decision_id']} {row['pending']['status']}" if row["pending"] else None
                )
            if not args.json:
                print(f"{len(rows)} record(s) past their retention at {at.isoformat()}", file=sys.stderr)
            _print(
                rows,
                args.json,
                ("case_key", "archival_code", "retention", "expires_at", "held", "proposal", "case_title"),
            )
            return 0
        if args.action == "list":
            rows = await store.decisions(status=args.status, limit=args.limit)
            cols = (
                "id",
                "case_key",
                "decision",
                "status",
                "retention_before",
                "retention_after",
                "proposed_by",
                "approved_by",
                "reason",
            )
            _print(rows, args.json, cols)
            return 0
        if args.action == "decide":
            caller = await _caller(pool, args, Permission.DISPOSITION_DECIDE)
            _, _, sites = _sites(settings)
            row = await disposal.decide(
                store,
                args.case_key,
                Decision(args.decision),
                reason=args.reason,
                actor=_actor(caller),
                now=now,
                new_retention=args.retention,
                sites=sites,
            )
            await _audit(
                pool,
                caller,
                "disposition.decide",
                args.case_key,
                {k: row[k] for k in ("id", "decision", "status", "reason", "retention_after")},
            )
            if row["status"] == "proposed":
                print(
                    f"proposal #{row['id']}: destroy {args.case_key}; a second person (role approver) approves it with "
                    f"`archivectl disposition approve {row['id']}`"
                )
            else:
                print(
                    f"#{row['id']}: {args.case_key} is now {row['retention_after']} ({row['decision']}); "
                    "its package lock follows"
                )
            return 0
        if args.action == "approve":
            caller = await _caller(pool, args, Permission.DISPOSITION_APPROVE)
            row = await disposal.approve(store, args.decision_id, approver=_actor(caller), now=now)
            await _audit(pool, caller, "disposition.approve", row["case_key"], {"decision_id": row["id"]})
            print(
                f"proposal #{row['id']} approved by {row['approved_by']}: "
                f"`archivectl disposition execute` destroys {row['case_key']}"
            )
            return 0
        if args.action == "reject":
            caller = await _caller(pool, args, Permission.DISPOSITION_APPROVE, Permission.DISPOSITION_DECIDE)
            row = await disposal.reject(store, args.decision_id, actor=_actor(caller), reason=args.reason, now=now)
            await _audit(
                pool, caller, "disposition.reject", row["case_key"], {"decision_id": row["id"], "reason": args.reason}
            )
            print(f"proposal #{row['id']} rejected: {row['case_key']} is not destroyed; it can be decided again")
            return 0
        if args.action == "execute":
            return await _execute(settings, pool, store, args, now)
    except (DispositionRefused, Refused) as exc:
        return _fail(str(exc))
    finally:
        await pool.close()
    return 2


async def _execute(
    settings: ArchiveSettings, pool: asyncpg.Pool, store: PgDispositionStore, args: argparse.Namespace, now: datetime
) -> int:
    from archivectl.destruction_filing import file_register

    caller = await _caller(pool, args, Permission.DISPOSITION_DECIDE, Permission.DISPOSITION_APPROVE)
    primary, replica, sites = _sites(settings)

    async def audit(action: str, target: str, detail: dict[str, Any]) -> None:
        await _audit(pool, caller, action, target, detail)

    async with KafkaPublisher(settings) as publisher:
        report = await disposal.execute_approved(
            store,
            sites=sites,
            now=now,
            publisher=publisher,
            topic_name=settings.topic,
            audit=audit,
            only=args.decision_ids or None,
        )
    for item in report.destroyed:
        sent = "published" if item.published else "in the outbox (the storage worker's relay publishes it)"
        print(f"destroyed {item.case_key} ({item.tombstone['archival_code']}); disposed event {sent}")
    for decision_id, why in report.refused.items():
        print(f"not executed #{decision_id}: {why}", file=sys.stderr)
    filed = await file_register(settings, pool, store=primary, replica=replica, now=now)
    if filed is not None:
        register, listed = filed
        await _audit(pool, caller, "disposition.register", register, {"destroyed": listed})
        print(f"destruction register archived as {register} (permanent), listing {len(listed)} record(s)")
    return 0 if not report.refused else 1


def cmd_disposition(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_disposition(settings, args))


# --- legal holds -----------------------------------------------------------------------------------------


async def _hold(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    pool = await _pool(settings)
    store = PgDispositionStore(pool)
    now = datetime.now(UTC)
    try:
        if args.action == "list":
            rows = await store.hold_rows(active_only=not args.all)
            _print(rows, args.json, ("id", "case_key", "reference", "reason", "set_by", "set_at", "lifted_at"))
            return 0
        caller = await _caller(pool, args, Permission.DISPOSITION_DECIDE)
        if args.action == "set":
            row = await disposal.set_hold(
                store, args.case_key, reason=args.reason, reference=args.reference, by=caller.name, now=now
            )
            await _audit(
                pool,
                caller,
                "hold.set",
                args.case_key,
                {"hold_id": row["id"], "reason": row["reason"], "reference": row["reference"]},
            )
            print(f"legal hold #{row['id']} on {args.case_key}: it cannot be destroyed until the hold is lifted")
            return 0
        row = await disposal.lift_hold(store, args.hold_id, reason=args.reason, by=caller.name, now=now)
        await _audit(pool, caller, "hold.lift", row["case_key"], {"hold_id": row["id"], "reason": row["lift_reason"]})
        print(f"legal hold #{row['id']} on {row['case_key']} lifted")
        return 0
    except (DispositionRefused, Refused) as exc:
        return _fail(str(exc))
    finally:
        await pool.close()


def cmd_hold(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_hold(settings, args))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    key_help = "your API key (default: $AA_API_KEY)"
    disposition = sub.add_parser(
        "disposition", help="records past their retention: decide (extend, keep, destroy), approve, execute"
    )
    actions = disposition.add_subparsers(dest="action", required=True, metavar="ACTION")
    due = actions.add_parser("due", help="records whose retention period has ended, with holds and proposals")
    due.add_argument("--as-of", help="an ISO date-time to list what will be due then (default: now)")
    due.add_argument("--limit", type=int, default=1000)
    due.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="appraisal decisions and destruction proposals, newest first")
    listing.add_argument("--status", choices=["decided", "proposed", "approved", "rejected", "executing", "executed"])
    listing.add_argument("--limit", type=int, default=200)
    listing.add_argument("--json", action="store_true")
    decide = actions.add_parser(
        "decide",
        help="decide a due record: extend (with --retention), keep (permanently) or destroy (a proposal)",
        description="Examples:  archivectl disposition decide market-regulation/SCJG-2016-000001/r1 --decision destroy "
        "--reason 保管期限已满，经鉴定无继续保存价值\n"
        "  archivectl disposition decide market-regulation/SCJG-2016-000002/r1 --decision extend --retention D30 "
        "--reason 相关诉讼时效未届满",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    decide.add_argument("case_key")
    decide.add_argument("--decision", required=True, choices=[d.value for d in Decision])
    decide.add_argument("--reason", required=True)
    decide.add_argument("--retention", help="the new period of an extension: D<years>, counted from completion")
    decide.add_argument("--key", help=key_help)
    approve = actions.add_parser("approve", help="approve a destruction proposal: a second key, of role approver")
    approve.add_argument("decision_id", type=int)
    approve.add_argument("--key", help=key_help)
    reject = actions.add_parser(
        "reject", help="reject a destruction proposal (an approver), or withdraw it (its proposer)"
    )
    reject.add_argument("decision_id", type=int)
    reject.add_argument("--reason", required=True)
    reject.add_argument("--key", help=key_help)
    execute = actions.add_parser(
        "execute", help="destroy every approved record whose lock has run out; file the destruction register"
    )
    execute.add_argument("decision_ids", type=int, nargs="*", help="only these proposals (default: every approved one)")
    execute.add_argument("--key", help=key_help)
    disposition.set_defaults(run=cmd_disposition)

    hold = sub.add_parser("hold", help="legal holds: a held record cannot be destroyed")
    hold_actions = hold.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = hold_actions.add_parser("set", help="put a record under legal hold")
    put.add_argument("case_key")
    put.add_argument("--reason", required=True, help="why: litigation, review, investigation …")
    put.add_argument("--reference", required=True, help="on what authority: a case number, a letter, an order")
    put.add_argument("--key", help=key_help)
    lift = hold_actions.add_parser("lift", help="lift a legal hold")
    lift.add_argument("hold_id", type=int)
    lift.add_argument("--reason", required=True)
    lift.add_argument("--key", help=key_help)
    holds = hold_actions.add_parser("list", help="active legal holds (--all: lifted ones too)")
    holds.add_argument("--all", action="store_true")
    holds.add_argument("--json", action="store_true")
    hold.set_defaults(run=cmd_hold)
