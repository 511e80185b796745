"""The append-only, hash-chained audit log (table `audit_log`, migration 0006) and its verification.

Every row carries `digest` = SHA-256 over the previous row's digest (64 zeros for the first row) followed
by the RFC 8785 canonical JSON of the row's own fields (`HASHED_FIELDS`: seq, time, who, what, status).
Rows are appended under a transaction-scoped advisory lock, so `seq` counts up without gaps and each row
links to the one before it. A trigger refuses UPDATE, DELETE and TRUNCATE; someone who disables it on
purpose and edits or removes a row is found by `verify_chain`, which names the first row whose digest
does not recompute, whose link to the previous digest is broken, or whose seq leaves a gap.

What the chain cannot show by itself: removing the *newest* rows (nothing links to them yet). Keep the
head (seq and digest) that `archivectl audit verify` prints somewhere else — a ticket, a log shipped off
the machine — to anchor it (docs/access.md).

The chain logic is pure (`row_digest`, `ChainVerifier`, `verify_chain`); `PgAuditLog` is the I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import rfc8785

GENESIS_DIGEST = "0" * 64
AUDIT_LOCK_ID = 0x41554454  # "AUDT": one appender at a time, across every process of the service
HASHED_FIELDS = ("seq", "at", "key_id", "principal", "role", "action", "method", "path", "target", "detail", "status")
_SAFE_INTEGER = 2**53 - 1  # RFC 8785 (I-JSON) numbers; larger integers are kept as strings


def format_at(at: datetime) -> str:
    """ISO-8601 UTC with microseconds: what timestamptz gives back exactly, so the digest recomputes."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clean_text(value: str) -> str:
    """Text PostgreSQL and RFC 8785 accept: no NUL, no lone surrogates (a request path may carry either)."""
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def clean_json(value: Any) -> Any:
    """`value` as JSON that survives jsonb and canonicalisation unchanged."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_json(v) for v in (sorted(value, key=str) if isinstance(value, set | frozenset) else value)]
    if isinstance(value, datetime):
        return format_at(value) if value.tzinfo else value.isoformat()
    return clean_text(str(value))


def canonical_fields(row: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON of the hashed fields of `row` (`at` as a datetime or its string)."""
    body = {name: row.get(name) for name in HASHED_FIELDS}
    if isinstance(body["at"], datetime):
        body["at"] = format_at(body["at"])
    return rfc8785.dumps(body)


def row_digest(prev_digest: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_digest.encode("ascii") + canonical_fields(row)).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """What one request (or one event within it) puts in the log; seq, time and digests are added on append."""

    action: str
    status: int
    key_id: str | None = None
    principal: str | None = None
    role: str | None = None
    method: str | None = None
    path: str | None = None
    target: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


BreakKind = Literal["gap", "broken link", "digest mismatch"]


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    kind: BreakKind
    message: str


@dataclass(frozen=True)
class ChainVerdict:
    rows: int  # rows verified before the first break (all of them when intact)
    first_break: ChainBreak | None
    head_seq: int  # the last intact row
    head_digest: str

    @property
    def intact(self) -> bool:
        return self.first_break is None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "intact": self.intact,
            "rows": self.rows,
            "head": {"seq": self.head_seq, "digest": self.head_digest},
        }
        if self.first_break is not None:
            out["first_bad_row"] = {
                "seq": self.first_break.seq,
                "kind": self.first_break.kind,
                "message": self.first_break.message,
            }
        return out


class ChainVerifier:
    """Feed rows in seq order; the first row that breaks the chain is kept and later rows are ignored."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev_digest = GENESIS_DIGEST
        self.rows = 0
        self.first_break: ChainBreak | None = None

    def feed(self, row: Mapping[str, Any]) -> ChainBreak | None:
        if self.first_break is not None:
            return self.first_break
        seq = int(row["seq"])
        problem: ChainBreak | None = None
        if seq != self.expected_seq:
            missing = (
                f"seq {self.expected_seq}" if seq == self.expected_seq + 1 else f"seq {self.expected_seq}–{seq - 1}"
            )
            problem = ChainBreak(
                seq,
                "gap",
                f"row {seq} follows row {self.expected_seq - 1}: {missing} missing (deleted, or renumbered)",
            )
        elif row["prev_digest"] != self.prev_digest:
            problem = ChainBreak(
                seq,
                "broken link",
                f"row {seq} links to prev_digest {row['prev_digest']}, but the row before it has digest "
                f"{self.prev_digest} (the row before was edited and its digest recomputed, or rows were swapped)",
            )
        else:
            computed = row_digest(row["prev_digest"], row)
            if computed != row["digest"]:
                problem = ChainBreak(
                    seq,
                    "digest mismatch",
                    f"row {seq}'s fields hash to {computed}, but it stores digest {row['digest']} "
                    "(the row was edited after it was written)",
                )
        if problem is not None:
            self.first_break = problem
            return problem
        self.rows += 1
        self.expected_seq = seq + 1
        self.prev_digest = row["digest"]
        return None

    def verdict(self) -> ChainVerdict:
        return ChainVerdict(self.rows, self.first_break, self.expected_seq - 1, self.prev_digest)


def verify_chain(rows: Iterable[Mapping[str, Any]]) -> ChainVerdict:
    verifier = ChainVerifier()
    for row in rows:
        if verifier.feed(row) is not None:
            break
    return verifier.verdict()


def check_head(verdict: ChainVerdict, seq: int, digest: str, digest_now: str | None) -> str | None:
    """Compare an intact chain with a head kept elsewhere earlier (`seq`, `digest` as `verify` printed them):
    the chain alone cannot show its newest rows being removed, the kept head can. `digest_now` is the digest
    the log holds at `seq` today (None: no such row). Returns what is wrong, or None."""
    if verdict.head_seq < seq:
        return (
            f"the log ends at seq {verdict.head_seq} but a head at seq {seq} was recorded: rows "
            f"{verdict.head_seq + 1}-{seq} (at least) were removed"
        )
    if digest_now != digest:
        return f"row seq {seq} is not the row recorded earlier (digest {digest_now}, recorded {digest})"
    return None


def next_row(last: Mapping[str, Any] | None, entry: AuditEntry, at: datetime) -> dict[str, Any]:
    """The row that follows `last` (its seq and digest; None for the first row) for `entry` at time `at`."""
    row: dict[str, Any] = {
        "seq": (int(last["seq"]) if last else 0) + 1,
        "at": at if at.tzinfo else at.replace(tzinfo=UTC),
        "key_id": clean_text(entry.key_id) if entry.key_id else None,
        "principal": clean_text(entry.principal) if entry.principal else None,
        "role": entry.role,
        "action": clean_text(entry.action),
        "method": entry.method,
        "path": clean_text(entry.path) if entry.path else None,
        "target": clean_text(entry.target) if entry.target else None,
        "detail": clean_json(dict(entry.detail)),
        "status": int(entry.status),
    }
    row["prev_digest"] = last["digest"] if last else GENESIS_DIGEST
    row["digest"] = row_digest(row["prev_digest"], row)
    return row


ROW_COLUMNS = "seq, at, key_id, principal, role, action, method, path, target, detail, status, prev_digest, digest"


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["detail"] = json.loads(row["detail"]) if isinstance(row["detail"], str) else row["detail"]
    return row


class PgAuditLog:
    def __init__(self, pool: asyncpg.Pool, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.clock = clock

    async def append(self, entry: AuditEntry) -> dict[str, Any]:
        """Append one row and return it. The advisory lock serialises appenders, so seq has no gaps and
        the time of a row is never before the time of the row it follows."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_ID)
            last = await conn.fetchrow("SELECT seq, digest FROM audit_log ORDER BY seq DESC LIMIT 1")
            row = next_row(last, entry, self.clock())
            await conn.execute(
                f"INSERT INTO audit_log ({ROW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, "
                "$11, $12, $13)",
                row["seq"],
                row["at"],
                row["key_id"],
                row["principal"],
                row["role"],
                row["action"],
                row["method"],
                row["path"],
                row["target"],
                json.dumps(row["detail"], ensure_ascii=False),
                row["status"],
                row["prev_digest"],
                row["digest"],
            )
            return row

    async def page(self, *, after_seq: int = 0, limit: int = 100, target: str | None = None) -> list[dict[str, Any]]:
        """Rows after `after_seq`, oldest first."""
        rows = await self.pool.fetch(
            f"SELECT {ROW_COLUMNS} FROM audit_log WHERE seq > $1 AND ($2::text IS NULL OR target = $2) "
            "ORDER BY seq LIMIT $3",
            after_seq,
            target,
            limit,
        )
        return [_row(r) for r in rows]

    async def tail(self, count: int = 20) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(f"SELECT {ROW_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT $1", count)
        return [_row(r) for r in reversed(rows)]

    async def digest_at(self, seq: int) -> str | None:
        return await self.pool.fetchval("SELECT digest FROM audit_log WHERE seq = $1", seq)

    async def bounds(self) -> tuple[int, int]:
        """(row count, highest seq): what a verification started now will walk."""
        row = await self.pool.fetchrow("SELECT count(*) AS n, coalesce(max(seq), 0) AS top FROM audit_log")
        return int(row["n"]), int(row["top"])

    async def rows_in_order(self, *, up_to_seq: int, batch: int = 2000) -> AsyncIterator[dict[str, Any]]:
        """Every row up to `up_to_seq` in seq order, read in keyset batches (memory stays flat)."""
        after = 0
        while True:
            rows = await self.pool.fetch(
                f"SELECT {ROW_COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                after,
                up_to_seq,
                batch,
            )
            if not rows:
                return
            for record in rows:
                yield _row(record)
            after = rows[-1]["seq"]

    async def verify(self, progress: Callable[[int, int], None] | None = None) -> ChainVerdict:
        """Walk the chain as it stands now (rows appended during the walk are left for the next one)."""
        total, top = await self.bounds()
        verifier = ChainVerifier()
        done = 0
        async for row in self.rows_in_order(up_to_seq=top):
            done += 1
            if verifier.feed(row) is not None:
                break
            if progress is not None and (done % 500 == 0 or done == total):
                progress(done, total)
        if progress is not None and total == 0:
            progress(0, 0)
        return verifier.verdict()
