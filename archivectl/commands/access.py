"""Access to the query API: API keys (create, list, revoke) and the audit log (verify its hash chain, show
its newest rows). docs/access.md describes roles, scopes and the audit log."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import datetime, time, timedelta

import asyncpg

from archivectl.commands.packages import ProgressBar
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.query.access import SECURITY_LEVELS, Role, ScopeError
from services.query.adapters.api_keys import PgApiKeys
from services.query.adapters.audit_log import PgAuditLog, check_head


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_expiry(text: str) -> datetime:
    """A date means the key works through that whole day (local time); a date-time is taken as given
    (local time when it names no zone)."""
    local = datetime.now().astimezone().tzinfo
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=local)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"--expires takes a date (2027-06-30) or a date-time, not {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=local)


async def _pool(settings: ArchiveSettings) -> asyncpg.Pool:
    await upgrade(settings)
    return await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=2)


# --- keys ------------------------------------------------------------------------------------------------


async def _key(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    pool = await _pool(settings)
    keys = PgApiKeys(pool)
    try:
        if args.action == "create":
            try:
                expires = parse_expiry(args.expires) if args.expires else None
                key = await keys.create(
                    args.name,
                    args.role,
                    sharing_levels=_csv(args.sharing) or _default_sharing(args.role),
                    max_security=args.max_security,
                    departments=_csv(args.departments),
                    platform_id=args.platform,
                    created_by=args.by,
                    expires_at=expires,
                )
            except (ScopeError, ValueError) as exc:
                return _fail(f"{exc}; no key was created")
            key_id = key.split("_")[1]
            print(key)
            print(
                f"key {key_id} for {args.name} ({args.role}) created. The line above is the key: it is shown "
                "only now — hand it over securely; the archive keeps only its digest.",
                file=sys.stderr,
            )
            return 0
        if args.action == "local":
            return await _local_operator_key(settings, keys)
        if args.action == "revoke":
            try:
                row = await keys.revoke(args.key_id)
            except KeyError as exc:
                return _fail(str(exc.args[0]))
            when = f"{row['revoked_at']:%Y-%m-%d %H:%M:%S%z}"
            print(f"key {row['key_id']} ({row['name']}, {row['role']}) revoked at {when}; it now answers 401")
            return 0
        rows = await keys.list()
        if not rows:
            print("no API keys (create one with `archivectl key create --name N --role R --by WHO`)")
        for r in rows:
            state = (
                f"revoked {r['revoked_at']:%Y-%m-%d}"
                if r["revoked_at"]
                else (f"expires {r['expires_at']:%Y-%m-%d %H:%M}" if r["expires_at"] else "active")
            )
            scope = f"sharing {','.join(r['sharing_levels'])}, up to {r['max_security']}"
            if r["departments"]:
                scope += f", departments {','.join(r['departments'])}"
            if r["platform_id"]:
                scope += f", platform {r['platform_id']}"
            print(
                f"{r['key_id']}  {r['role']:<11} {r['name']}  [{scope}]  {state}  "
                f"(by {r['created_by']}, {r['created_at']:%Y-%m-%d})"
            )
        return 0
    finally:
        await pool.close()


async def _local_operator_key(settings: ArchiveSettings, keys: PgApiKeys) -> int:
    """The operator key of this machine's `make up`: created once, kept in .stack/ (mode 600), created again
    when the stack was reset and the database no longer knows it. Never for a production archive."""
    from archivectl import local_services

    path = local_services.REPO / ".stack" / f"{settings.namespace or 'default'}-operator.key"
    key = path.read_text().strip() if path.exists() else ""
    if not key or await keys.authenticate(key) is None:
        key = await keys.create(
            "local operator (make up)",
            Role.OPERATOR,
            sharing_levels=_default_sharing(Role.OPERATOR),
            created_by="make up",
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(key + "\n")
    [(_, query_pid)] = local_services.status(settings.namespace, services=("query",))
    url = f"http://127.0.0.1:{local_services.QUERY_HTTP_PORT}"
    print(
        f"dashboard: {url}/dashboard  API: {url}/docs — log in with the operator key in "
        f"{path.relative_to(local_services.REPO)} (`archivectl key create` makes keys for others)"
    )
    if query_pid is None:
        print("  (the query service is not running: `make services-start`)", file=sys.stderr)
    return 0


def _default_sharing(role: str) -> list[str]:
    from services.query.access import POLICY

    return sorted(POLICY[Role(role)].grantable_sharing) if role != Role.SUPERVISION else ["01"]


def cmd_key(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_key(settings, args))


# --- audit log -------------------------------------------------------------------------------------------


async def _audit(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    pool = await _pool(settings)
    audit = PgAuditLog(pool)
    try:
        if args.action == "tail":
            for row in await audit.tail(args.n):
                target = f" {row['target']}" if row["target"] else ""
                who = f"{row['principal'] or '?'} ({row['role'] or '?'}, key {row['key_id'] or '-'})"
                detail = json.dumps(row["detail"], ensure_ascii=False) if row["detail"] else ""
                print(
                    f"{row['seq']:>8} {row['at']:%Y-%m-%d %H:%M:%S} {row['status']} {row['action']:<15} "
                    f"{row['method'] or ''} {row['path'] or ''}{target}  {who}  {detail}"
                )
            return 0
        bar = ProgressBar("audit rows verified")
        try:
            verdict = await audit.verify(progress=bar)
        finally:
            bar.close()
        if verdict.intact and args.head:
            seq, digest = args.head
            problem = check_head(verdict, seq, digest, await audit.digest_at(seq))
            if problem:
                print(f"chain intact but SHORTENED or REPLACED: {problem}; report it to the archive's security officer")
                return 1
        if verdict.intact:
            print(
                f"chain intact: {verdict.rows} rows (head: seq {verdict.head_seq}, digest {verdict.head_digest}; "
                f"keep `--head {verdict.head_seq}:{verdict.head_digest}` elsewhere and pass it to a later verify "
                "to notice the newest rows being removed)"
            )
            return 0
        bad = verdict.first_break
        assert bad is not None
        print(
            f"chain BROKEN at row seq {bad.seq}: {bad.kind} — {bad.message}\n"
            f"  {verdict.rows} rows before it verify; compare row {bad.seq} with a backup of the database and "
            "report it to the archive's security officer",
        )
        return 1
    finally:
        await pool.close()


def _head(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError(f"expected SEQ:DIGEST (e.g. 1042:3f…, 64 hex digits), not {text!r}")
    return int(seq), digest.lower()


def cmd_audit(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_audit(settings, args))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    who = getpass.getuser()

    key = sub.add_parser("key", help="API keys of the query service: create, list, revoke")
    actions = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create a key and print it (shown only once)",
        description="Examples:  archivectl key create --name 市场监管事中事后监管系统 --role supervision "
        "--sharing 01,02 --by 张伟\n"
        "  archivectl key create --name 住建审批平台 --role platform --platform construction-permit --by 张伟",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("--name", required=True, help="whose key: a system or a person")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--sharing",
        help="sharing levels it sees, e.g. 01,02 (default: all the role may have; 01 for supervision)",
    )
    create.add_argument("--max-security", default="内部", choices=SECURITY_LEVELS, help="highest security level")
    create.add_argument("--departments", help="department codes it is limited to, e.g. SCJG,ZJJ (default: all)")
    create.add_argument("--platform", help="the platform id (platform role only)")
    create.add_argument("--expires", help="last day it works (2027-06-30), or a date-time")
    create.add_argument("--by", default=who, help="who issues it (default: the login name)")
    actions.add_parser("list", help="every key, without secrets")
    actions.add_parser("local", help="the local operator key of `make up` (created once, kept in .stack/)")
    revoke = actions.add_parser("revoke", help="revoke a key: from now on it answers 401")
    revoke.add_argument("key_id")
    key.set_defaults(run=cmd_key)

    audit = sub.add_parser("audit", help="the query service's audit log: verify its hash chain, show newest rows")
    audit_actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = audit_actions.add_parser("verify", help="walk the chain; exit 1 naming the first row that breaks it")
    verify.add_argument(
        "--head",
        type=_head,
        metavar="SEQ:DIGEST",
        help="a head printed by an earlier verify and kept elsewhere: also fail if the log no longer holds it "
        "(its newest rows removed, or the log rebuilt)",
    )
    tail = audit_actions.add_parser("tail", help="the newest rows")
    tail.add_argument("-n", type=int, default=20, help="how many (default 20)")
    audit.set_defaults(run=cmd_audit)
