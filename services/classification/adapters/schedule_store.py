"""PostgreSQL adapter of classification (asyncpg): schedule versions, archival-code allocation with the
case's classification, the manual review queue and the reclassification audit.

Allocation lives here (not in index.py) because a case's archival code and its classification are
written in ONE transaction: a case holds one code and one classification, or neither.

* A per-case advisory lock (`pg_advisory_xact_lock`) serialises everything done to one case, so a
  case racing itself (redelivery while a slow worker still holds it, a reviewer deciding while the
  service re-reads it) is classified once.
* The series counter row (`archival_series`) is locked `FOR UPDATE` for the rest of the transaction, so
  concurrent workers take item numbers one after another; a rolled-back transaction gives its number
  back. Item numbers are therefore 1..n in every series: no gap, no duplicate.
* A case that already has a classification gets back exactly the event it was first given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.v1 import ClassifiedEvent, topics
from services.common.adapters import outbox
from services.common.composition import open_database
from services.common.runner import Publisher
from services.common.series import AllocatedCode, Series
from services.common.settings import ArchiveSettings

_SCHEDULE_LOCK = 0x52455453  # "RETS": loads and activations of schedule versions, one at a time


def _json(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, date | datetime):
            return o.isoformat()
        if isinstance(o, set | frozenset | tuple):
            return sorted(o) if isinstance(o, set | frozenset) else list(o)
        raise TypeError(f"not JSON-serialisable: {type(o).__name__}")

    return json.dumps(value, ensure_ascii=False, default=default)


@dataclass(frozen=True)
class Prior:
    """What is already known about a case before it is classified."""

    classified_event: dict[str, Any] | None
    review_status: str | None  # 'waiting' | 'decided' | None


@dataclass(frozen=True)
class LoadOutcome:
    version: str
    newly_loaded: bool
    activated: bool
    rule_count: int


class ScheduleVersionConflict(Exception):
    """The version is already loaded with different content; versions are immutable."""


class PgClassificationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(
        cls, settings: ArchiveSettings, *, migrate: bool = True, max_size: int = 4
    ) -> PgClassificationStore:
        """For commands and tests; a worker builds its adapters on its one pool (its bootstrap.py)."""
        if migrate:
            return cls(await open_database(settings, max_size=max_size))
        return cls(await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=max_size))

    async def close(self) -> None:
        await self.pool.close()

    # --- schedule versions ------------------------------------------------------------------------------

    async def load_schedule(
        self,
        *,
        version: str,
        title: str,
        sha256: str,
        document: dict[str, Any],
        rules: list[dict[str, Any]],
        source_file: str,
        loaded_by: str,
        activate: bool = True,
    ) -> LoadOutcome:
        """Store a checked schedule as a version, with its rules, and (by default) put it in force — all in
        one transaction. The same version with the same content again is a no-op (it is only activated if
        asked); the same version with other content is refused."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEDULE_LOCK)
            existing = await conn.fetchval("SELECT sha256 FROM retention_schedules WHERE version=$1", version)
            if existing is not None and existing != sha256:
                raise ScheduleVersionConflict(
                    f"version {version} is already loaded from a different file (sha256 {existing[:12]}…); "
                    "a loaded version never changes — give the edited file a new `version:`"
                )
            newly = existing is None
            if newly:
                await conn.execute(
                    """INSERT INTO retention_schedules (version, title, sha256, source_file, document, loaded_by)
                       VALUES ($1, $2, $3, $4, $5::jsonb, $6)""",
                    version,
                    title,
                    sha256,
                    source_file,
                    _json(document),
                    loaded_by,
                )
                await conn.executemany(
                    """INSERT INTO retention_rules (version, rule_id, position, priority, item_pattern, item_version,
                       conditions, materials, retention, category_code, class_code, security_level, sharing_level)
                       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13)""",
                    [
                        (
                            version,
                            r["rule_id"],
                            r["position"],
                            r["priority"],
                            r["item_pattern"],
                            r["item_version"],
                            _json(r["conditions"]),
                            _json(r["materials"]),
                            r["retention"],
                            r["category_code"],
                            r["class_code"],
                            r["security_level"],
                            r["sharing_level"],
                        )
                        for r in rules
                    ],
                )
            activated = False
            if activate:
                current = await self._active_version(conn)
                if current != version:
                    await conn.execute(
                        "INSERT INTO schedule_activations (version, activated_by) VALUES ($1, $2)",
                        version,
                        loaded_by,
                    )
                    activated = True
            return LoadOutcome(version, newly, activated, len(rules))

    async def has_active_schedule(self) -> bool:
        return await self.active_version() is not None

    async def activate(self, version: str, *, activated_by: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEDULE_LOCK)
            if not await conn.fetchval("SELECT 1 FROM retention_schedules WHERE version=$1", version):
                raise KeyError(f"no schedule version {version!r} is loaded")
            await conn.execute(
                "INSERT INTO schedule_activations (version, activated_by) VALUES ($1, $2)", version, activated_by
            )

    @staticmethod
    async def _active_version(conn: asyncpg.Connection) -> str | None:
        return await conn.fetchval("SELECT version FROM schedule_activations ORDER BY seq DESC LIMIT 1")

    async def active_version(self) -> str | None:
        async with self.pool.acquire() as conn:
            return await self._active_version(conn)

    async def schedule_document(self, version: str) -> tuple[dict[str, Any], str]:
        """The stored document of a version (the schedule file as data) and the sha256 of its file."""
        row = await self.pool.fetchrow("SELECT document, sha256 FROM retention_schedules WHERE version=$1", version)
        if row is None:
            raise KeyError(f"no schedule version {version!r} is loaded")
        return json.loads(row["document"]), row["sha256"]

    async def versions(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT s.version, s.title, s.source_file, s.loaded_by, s.loaded_at, s.sha256,
                      (SELECT count(*) FROM retention_rules r WHERE r.version = s.version) AS rules,
                      (SELECT max(activated_at) FROM schedule_activations a WHERE a.version = s.version) AS activated_at
               FROM retention_schedules s ORDER BY s.loaded_at"""
        )
        return [dict(r) for r in rows]

    # --- classification ---------------------------------------------------------------------------------

    async def prior(self, case_key: str) -> Prior:
        row = await self.pool.fetchrow(
            """SELECT (SELECT classified_event FROM classifications WHERE case_key=$1) AS event,
                      (SELECT status FROM classification_reviews WHERE case_key=$1) AS status""",
            case_key,
        )
        return Prior(json.loads(row["event"]) if row["event"] else None, row["status"])

    async def enqueue_review(
        self,
        *,
        case_key: str,
        validated_event: dict[str, Any],
        reason: str,
        schedule_version: str,
        source_platform: str,
        item_code: str,
        item_name: str,
        case_title: str,
    ) -> bool:
        """Put the case in the review queue; True if it was not there yet."""
        inserted = await self.pool.fetchval(
            """INSERT INTO classification_reviews (case_key, status, reason, schedule_version, source_platform,
               item_code, item_name, case_title, validated_event)
               VALUES ($1, 'waiting', $2, $3, $4, $5, $6, $7, $8::jsonb)
               ON CONFLICT (case_key) DO NOTHING RETURNING case_key""",
            case_key,
            reason,
            schedule_version,
            source_platform,
            item_code,
            item_name,
            case_title,
            _json(validated_event),
        )
        return inserted is not None

    async def record_classification(
        self,
        *,
        case_key: str,
        item_code: str,
        series: Series,
        decision: dict[str, Any],
        format_code: Callable[[Series, int], str],
        make_event: Callable[[AllocatedCode, Series], dict[str, Any]],
        review_decision: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Allocate the case's archival code and record its classification in one transaction.

        `decision` is the decision as JSON (rule_id, schedule_version, class_code, security_level,
        sharing_level, decided_by, decided_at); category and retention are the series'.

        Returns (the classified event of record, whether this call created it). `make_event` builds the
        event from the allocated code and the series it is in. If the case already has a classification,
        that event comes back unchanged. With `review_decision`, the case's waiting review is marked
        decided in the same transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", case_key)
            stored = await conn.fetchval("SELECT classified_event FROM classifications WHERE case_key=$1", case_key)
            if stored is not None:
                return json.loads(stored), False
            code_row = await conn.fetchrow(
                """SELECT item_number, archival_code, fonds_code, category_code, year, retention, organisation_code
                   FROM archival_codes WHERE case_key=$1""",
                case_key,
            )
            if code_row is not None:
                # Given a code before classifications were recorded (an older release): codes never change,
                # so the series is the code's own.
                allocated = AllocatedCode(code_row["item_number"], code_row["archival_code"], newly_allocated=False)
                series = Series(
                    code_row["fonds_code"],
                    code_row["category_code"],
                    code_row["year"],
                    code_row["retention"],
                    code_row["organisation_code"],
                )
            else:
                allocated = await self._allocate(conn, case_key, series, format_code)
            event = make_event(allocated, series)
            await conn.execute(
                """INSERT INTO classifications (case_key, archival_code, item_code, rule_id, schedule_version,
                   decided_by, classified_event, current_rule_id, current_schedule_version, current_category_code,
                   current_class_code, current_retention, current_security_level, current_sharing_level)
                   VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $4, $5, $8, $9, $10, $11, $12)""",
                case_key,
                allocated.archival_code,
                item_code,
                decision["rule_id"],
                decision["schedule_version"],
                decision.get("decided_by"),
                _json(event),
                series.category_code,
                decision["class_code"],
                series.retention,
                decision["security_level"],
                decision["sharing_level"],
            )
            if review_decision is not None:
                # A person's decision follows no input message that could be redelivered: its classified event
                # is staged in the outbox in this transaction, so a crash after the commit cannot lose it.
                await outbox.stage(conn, topics.CLASSIFIED, ClassifiedEvent.model_validate(event))
                await conn.execute(
                    """UPDATE classification_reviews SET status='decided', decided_by=$2, decided_at=$3,
                       decision=$4::jsonb WHERE case_key=$1""",
                    case_key,
                    decision.get("decided_by"),
                    datetime.fromisoformat(decision["decided_at"]) if decision.get("decided_at") else None,
                    _json(review_decision),
                )
            return event, True

    @staticmethod
    async def _allocate(
        conn: asyncpg.Connection, case_key: str, series: Series, format_code: Callable[[Series, int], str]
    ) -> AllocatedCode:
        key = (series.fonds_code, series.category_code, series.year, series.retention, series.organisation_code)
        await conn.execute(
            """INSERT INTO archival_series (fonds_code, category_code, year, retention, organisation_code)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            *key,
        )
        number = await conn.fetchval(
            """UPDATE archival_series SET last_item_number = last_item_number + 1
               WHERE fonds_code=$1 AND category_code=$2 AND year=$3 AND retention=$4 AND organisation_code=$5
               RETURNING last_item_number""",
            *key,
        )  # the UPDATE takes the row lock until commit: the next worker in this series waits here
        code = format_code(series, number)
        await conn.execute(
            """INSERT INTO archival_codes (case_key, archival_code, fonds_code, category_code, year, retention,
               organisation_code, item_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            case_key,
            code,
            *key,
            number,
        )
        return AllocatedCode(number, code, newly_allocated=True)

    async def relay_outbox(self, publisher: Publisher, topic_name: Callable[[str], str], *, only: str) -> int:
        return await outbox.relay(self.pool, publisher, topic_name, only=only)

    # --- the review queue -------------------------------------------------------------------------------

    async def reviews(self, status: str | None = "waiting") -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT case_key, status, reason, schedule_version, source_platform, item_code, item_name, case_title,
                      queued_at, decided_by, decided_at, decision
               FROM classification_reviews WHERE $1::text IS NULL OR status=$1 ORDER BY queued_at, case_key""",
            status,
        )
        return [dict(r) for r in rows]

    async def review(self, case_key: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM classification_reviews WHERE case_key=$1", case_key)
        if row is None:
            return None
        out = dict(row)
        out["validated_event"] = json.loads(out["validated_event"])
        out["decision"] = json.loads(out["decision"]) if out["decision"] else None
        return out

    # --- reclassification -------------------------------------------------------------------------------

    async def classification(self, case_key: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM classifications WHERE case_key=$1", case_key)
        if row is None:
            return None
        out = dict(row)
        out["classified_event"] = json.loads(out["classified_event"])
        return out

    async def record_reclassification(
        self,
        *,
        case_key: str,
        to_version: str,
        outcome: str,
        old: dict[str, Any],
        new: dict[str, Any] | None,
        requested_by: str,
        note: str | None,
    ) -> None:
        """Write the audit row and, when a rule of the new version matched, make its decision the case's
        current one (current_* columns). The archival code and the event of record are never touched."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", case_key)
            code = await conn.fetchval("SELECT archival_code FROM classifications WHERE case_key=$1", case_key)
            await conn.execute(
                """INSERT INTO reclassifications (case_key, archival_code, to_version, outcome, old_decision,
                   new_decision, requested_by, note) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)""",
                case_key,
                code,
                to_version,
                outcome,
                _json(old),
                _json(new) if new is not None else None,
                requested_by,
                note,
            )
            if new is not None:
                await conn.execute(
                    """UPDATE classifications SET current_rule_id=$2, current_schedule_version=$3,
                       current_category_code=$4, current_class_code=$5, current_retention=$6,
                       current_security_level=$7, current_sharing_level=$8, reclassified_at=now()
                       WHERE case_key=$1""",
                    case_key,
                    new["rule_id"],
                    new["schedule_version"],
                    new["category_code"],
                    new["class_code"],
                    new["retention"],
                    new["security_level"],
                    new["sharing_level"],
                )

    async def reclassifications(self, case_key: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT * FROM reclassifications WHERE case_key=$1 ORDER BY id", case_key)
        return [dict(r) for r in rows]
