"""The PostgreSQL side of disposition (tables of migration 0013): records with their effective retention,
appraisal decisions and destruction proposals, legal holds, and the execution's one transaction — the
tombstone, the PREMIS deletion event and the disposed event in the outbox, the record's rows removed.

The rules are services/storage/disposition.py's; this module only reads and writes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from contracts.envelope import CloudEvent
from contracts.v1 import topics
from services.common.adapters import outbox
from services.common.runner import Publisher
from services.storage.disposition import Actor, Hold, Proposal, RecordState, Status

# The record's retention as decided last (extend / keep), else its classification's.
_EFFECTIVE = """coalesce((SELECT d.retention_after FROM disposition_decisions d
                          WHERE d.case_key = r.case_key AND d.status = 'decided'
                          ORDER BY d.id DESC LIMIT 1), r.retention)"""

RECORD_COLUMNS = f"""r.case_key, r.source_platform, r.case_number, r.revision, r.archival_code, r.case_title,
    r.department_code, r.department_name, r.item_name, r.region_code, r.sharing_level, r.security_level,
    r.retention AS classified_retention,
    {_EFFECTIVE} AS retention, r.completed_at, r.file_count, r.total_bytes, r.package_bucket, r.package_key,
    r.package_sha256, r.package_version_id, r.replica_version_id, r.retain_until, r.legal_hold"""


def record_state(row: dict[str, Any]) -> RecordState:
    return RecordState(row["case_key"], row["retention"], row["completed_at"], row["retain_until"], row["legal_hold"])


def _proposal(row: asyncpg.Record | dict[str, Any]) -> Proposal:
    actor = Actor(row["proposed_by_key"], row["proposed_by"], row["proposed_by_role"])
    return Proposal(row["id"], row["case_key"], Status(row["status"]), actor)


class PgDispositionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- reads -------------------------------------------------------------------------------------

    async def due_candidates(self, now: datetime, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Records whose fixed-term period (effective retention) ended by `now`, oldest expiry first. The
        SQL reckons as the rules do (completion + years, in UTC); callers keep what `is_due` confirms."""
        rows = await self.pool.fetch(
            f"""SELECT * FROM (SELECT {RECORD_COLUMNS} FROM records r) x
                WHERE x.retention ~ '^D[0-9]+$'
                  AND ((x.completed_at AT TIME ZONE 'UTC')
                       + make_interval(years => substring(x.retention from 2)::int)) AT TIME ZONE 'UTC' <= $1
                ORDER BY (x.completed_at AT TIME ZONE 'UTC')
                         + make_interval(years => substring(x.retention from 2)::int), x.case_key
                LIMIT $2""",
            now,
            limit,
        )
        return [dict(r) for r in rows]

    async def record(self, case_key: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(f"SELECT {RECORD_COLUMNS} FROM records r WHERE r.case_key = $1", case_key)
        return dict(row) if row else None

    async def tombstone(self, case_key: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM record_tombstones WHERE case_key = $1", case_key)
        return dict(row) if row else None

    async def holds(self, case_keys: Sequence[str] | None = None, *, active_only: bool = True) -> list[Hold]:
        rows = await self.pool.fetch(
            """SELECT id, case_key, reason, reference, lifted_at FROM legal_holds
               WHERE ($1::text[] IS NULL OR case_key = ANY($1)) AND (NOT $2 OR lifted_at IS NULL) ORDER BY id""",
            list(case_keys) if case_keys is not None else None,
            active_only,
        )
        return [Hold(r["id"], r["case_key"], r["reason"], r["reference"], r["lifted_at"] is not None) for r in rows]

    async def hold_rows(self, *, active_only: bool = True) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM legal_holds WHERE (NOT $1 OR lifted_at IS NULL) ORDER BY id", active_only
        )
        return [dict(r) for r in rows]

    async def pending(self, case_keys: Sequence[str] | None = None) -> list[Proposal]:
        """Destruction proposals not executed yet (proposed, approved, or executing)."""
        rows = await self.pool.fetch(
            """SELECT * FROM disposition_decisions WHERE decision = 'destroy'
               AND status IN ('proposed', 'approved', 'executing')
               AND ($1::text[] IS NULL OR case_key = ANY($1)) ORDER BY id""",
            list(case_keys) if case_keys is not None else None,
        )
        return [_proposal(r) for r in rows]

    async def decision(self, decision_id: int) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM disposition_decisions WHERE id = $1", decision_id)
        return dict(row) if row else None

    def proposal_of(self, row: dict[str, Any]) -> Proposal:
        return _proposal(row)

    async def decisions(self, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM disposition_decisions WHERE ($1::text IS NULL OR status = $1)
               ORDER BY id DESC LIMIT $2""",
            status,
            limit,
        )
        return [dict(r) for r in rows]

    # --- writes ------------------------------------------------------------------------------------

    async def insert_decision(
        self,
        *,
        case_key: str,
        decision: str,
        status: Status,
        reason: str,
        retention_before: str,
        retention_after: str | None,
        actor: Actor,
        at: datetime,
    ) -> dict[str, Any]:
        try:
            row = await self.pool.fetchrow(
                """INSERT INTO disposition_decisions (case_key, decision, status, reason, retention_before,
                   retention_after, proposed_by_key, proposed_by, proposed_by_role, proposed_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
                case_key,
                decision,
                status.value,
                reason,
                retention_before,
                retention_after,
                actor.key_id,
                actor.name,
                actor.role,
                at,
            )
        except asyncpg.UniqueViolationError as exc:
            raise LookupError(f"{case_key} has a destruction proposal pending already") from exc
        assert row is not None
        return dict(row)

    async def approve(self, decision_id: int, approver: Actor, at: datetime) -> dict[str, Any] | None:
        """Mark a proposal approved — only if it is still proposed (a concurrent approval wins once)."""
        row = await self.pool.fetchrow(
            """UPDATE disposition_decisions SET status = 'approved', approved_by_key = $2, approved_by = $3,
                      approved_at = $4
               WHERE id = $1 AND status = 'proposed' RETURNING *""",
            decision_id,
            approver.key_id,
            approver.name,
            at,
        )
        return dict(row) if row else None

    async def reject(self, decision_id: int, actor: Actor, reason: str, at: datetime) -> dict[str, Any] | None:
        """Close a proposal unexecuted — only while it is proposed or approved (not once executing)."""
        row = await self.pool.fetchrow(
            """UPDATE disposition_decisions SET status = 'rejected', rejected_by_key = $2, rejected_by = $3,
                      rejected_at = $4, reject_reason = $5
               WHERE id = $1 AND status IN ('proposed', 'approved') RETURNING *""",
            decision_id,
            actor.key_id,
            actor.name,
            at,
            reason,
        )
        return dict(row) if row else None

    async def set_hold(self, case_key: str, *, reason: str, reference: str, by: str, at: datetime) -> dict[str, Any]:
        """A hold on an archived record, under the record's row lock (the lock `start_execution` takes): a
        hold commits before an execution starts, or is refused because the destruction is under way."""
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM records WHERE case_key = $1 FOR UPDATE", case_key) is None:
                raise LookupError(f"no archived record {case_key}")
            executing = await conn.fetchval(
                "SELECT id FROM disposition_decisions WHERE case_key = $1 AND status = 'executing'", case_key
            )
            if executing is not None:
                raise PermissionError(
                    f"{case_key} is being destroyed (proposal #{executing}: its package versions are being "
                    "deleted); it can no longer be held"
                )
            row = await conn.fetchrow(
                """INSERT INTO legal_holds (case_key, reason, reference, set_by, set_at) VALUES ($1, $2, $3, $4, $5)
                   RETURNING *""",
                case_key,
                reason,
                reference,
                by,
                at,
            )
        assert row is not None
        return dict(row)

    async def start_execution(self, decision_id: int, case_key: str) -> bool:
        """Mark an approved proposal `executing` — only if no hold is active — under the record's row lock.
        True: it is executing now (or was already, by an earlier run that stopped); False: held."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM records WHERE case_key = $1 FOR UPDATE", case_key)
            held = await conn.fetchval(
                "SELECT count(*) FROM legal_holds WHERE case_key = $1 AND lifted_at IS NULL", case_key
            )
            if held:
                return False
            status = await conn.fetchval(
                """UPDATE disposition_decisions SET status = 'executing' WHERE id = $1
                   AND status IN ('approved', 'executing') RETURNING status""",
                decision_id,
            )
            return status is not None

    async def lift_hold(self, hold_id: int, *, reason: str, by: str, at: datetime) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            """UPDATE legal_holds SET lifted_by = $2, lifted_at = $3, lift_reason = $4
               WHERE id = $1 AND lifted_at IS NULL RETURNING *""",
            hold_id,
            by,
            at,
            reason,
        )
        return dict(row) if row else None

    async def record_destruction(
        self,
        decision_id: int,
        tombstone: dict[str, Any],
        deletion_event: dict[str, Any],
        disposed: CloudEvent[Any],
    ) -> bool:
        """The execution's one transaction: the proposal executed (only if `executing`), the tombstone, the
        PREMIS deletion event as the case's next preservation event, the disposed event in the outbox, and
        the record's index rows removed. False when another execution got there first."""
        case_key = tombstone["case_key"]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM records WHERE case_key = $1 FOR UPDATE", case_key)
            executed = await conn.fetchval(
                """UPDATE disposition_decisions SET status = 'executed', executed_at = $2
                   WHERE id = $1 AND status = 'executing' RETURNING id""",
                decision_id,
                tombstone["destroyed_at"],
            )
            if executed is None:
                return False
            values = {**tombstone, "deleted_versions": json.dumps(tombstone["deleted_versions"])}
            columns = list(values)
            await conn.execute(
                f"INSERT INTO record_tombstones ({', '.join(columns)}) VALUES "
                f"({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
                *values.values(),
            )
            seq = await conn.fetchval(
                "SELECT coalesce(max(seq), 0) + 1 FROM preservation_events WHERE case_key = $1", case_key
            )
            event = {"case_key": case_key, "seq": seq, **deletion_event}
            await conn.execute(
                f"INSERT INTO preservation_events ({', '.join(event)}) VALUES "
                f"({', '.join(f'${i}' for i in range(1, len(event) + 1))}) ON CONFLICT (event_id) DO NOTHING",
                *event.values(),
            )
            await outbox.stage(conn, topics.DISPOSED, disposed)
            await conn.execute("DELETE FROM record_files WHERE case_key = $1", case_key)
            await conn.execute("DELETE FROM records WHERE case_key = $1", case_key)
            # The revision before it (if any) is the newest again: relink as the index does.
            await conn.execute(
                """UPDATE records r SET superseded_by_revision = n.next FROM (
                       SELECT case_key, lead(revision) OVER (PARTITION BY source_platform, case_number
                                                             ORDER BY revision) AS next FROM records
                       WHERE source_platform = $1 AND case_number = $2) n
                   WHERE n.case_key = r.case_key AND r.superseded_by_revision IS DISTINCT FROM n.next""",
                tombstone["source_platform"],
                tombstone["case_number"],
            )
        return True

    async def set_lock(self, case_key: str, *, retain_until: datetime, legal_hold: bool) -> None:
        """The index follows a lengthened package lock (a legal hold once set stays)."""
        await self.pool.execute(
            "UPDATE records SET retain_until = $2, legal_hold = legal_hold OR $3 WHERE case_key = $1",
            case_key,
            retain_until,
            legal_hold,
        )

    async def unregistered(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Destroyed records not yet listed in a destruction register, each with its executed decision."""
        tombstones = [
            dict(r)
            for r in await self.pool.fetch(
                "SELECT * FROM record_tombstones WHERE register_case_key IS NULL ORDER BY decision_id"
            )
        ]
        decisions = {
            r["id"]: dict(r)
            for r in await self.pool.fetch(
                "SELECT * FROM disposition_decisions WHERE id = ANY($1)", [t["decision_id"] for t in tombstones]
            )
        }
        out = []
        for tomb in tombstones:
            if isinstance(tomb["deleted_versions"], str):  # jsonb comes back as text without a codec
                tomb["deleted_versions"] = json.loads(tomb["deleted_versions"])
            out.append((tomb, decisions[tomb["decision_id"]]))
        return out

    async def link_register(self, case_keys: Sequence[str], register_case_key: str) -> None:
        await self.pool.execute(
            "UPDATE record_tombstones SET register_case_key = $2 WHERE case_key = ANY($1)",
            list(case_keys),
            register_case_key,
        )

    async def relay_outbox(
        self, publisher: Publisher, topic_name: Callable[[str], str], *, only: str | None = None
    ) -> int:
        return await outbox.relay(self.pool, publisher, topic_name, only=only)
