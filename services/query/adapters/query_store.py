"""What the query service reads and changes in PostgreSQL, besides search (services/query/search.py):
one record with its files, preservation events and fixity checks; the quarantine and manual-review
queues and the resolution of a quarantine entry; statistics per day, platform, department and defect.

Scope (departments, platform) is applied in SQL where a list is read; for one record the caller's scope
is checked by the route with services.query.access.in_scope, which says the same thing in Python.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.common.adapters.fixity_log import FixityCheckRow, record_fixity_check
from services.common.china_time import CHINA_TIME_ZONE_NAME

RESOLUTIONS = ("withdrawn", "settled_outside", "duplicate", "other")
QUARANTINE_STATUSES = ("open", "closed", "superseded", "resolved")
REVIEW_STATUSES = ("waiting", "decided")
STATS_DIMENSIONS = ("day", "platform", "department", "defect")

RECORD_COLUMNS = (
    "case_key, source_platform, case_number, revision, region_code, item_code, item_name, case_title, "
    "applicant_name, applicant_type, applicant_id_type, applicant_id_number, department_code, department_name, "
    "accepted_at, completed_at, result, certificate_number, archival_code, category_code, class_code, retention, "
    "security_level, sharing_level, rule_id, schedule_version, package_bucket, package_prefix, manifest_sha256, "
    "file_count, total_bytes, correlation_id, archived_at, archived_event, package_key, package_version_id, "
    "replica_version_id, package_sha256, package_size, retain_until, legal_hold, superseded_by_revision"
)
FILE_COLUMNS = (
    "seq, stage, material_name, file_name, original_file_name, media_type, size, sha256, sm3, path_in_package, "
    "byte_offset, object_key"
)


class BadQueueCursor(ValueError):
    """A queue cursor this service did not hand out."""


def _encode(parts: Sequence[Any]) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else p for p in parts], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(stamp), str(key)
    except (ValueError, TypeError) as exc:
        raise BadQueueCursor(f"cursor {cursor[:40]!r} is not one this service handed out") from exc


@dataclass(frozen=True)
class QueueScope:
    """Which queue entries a caller sees: one platform (platform keys) and/or some departments."""

    platform_id: str | None = None
    departments: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecordScope:
    """The record scope of a caller for aggregate counts (search.py applies the same to lists)."""

    sharing_levels: frozenset[str]
    security_levels: tuple[str, ...]
    departments: frozenset[str] = frozenset()
    platform_id: str | None = None


@dataclass(frozen=True)
class ResolveOutcome:
    entry: dict[str, Any] | None  # the resolved entry, or the entry as it stands when refused
    refused: str | None = None  # why it could not be resolved (409)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _review_json(row: asyncpg.Record) -> dict[str, Any]:
    item = dict(row)
    item["decision"] = json.loads(item["decision"]) if item["decision"] else None
    return item


def _quarantine_json(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["failures"] = json.loads(out["failures"]) if isinstance(out["failures"], str) else out["failures"]
    return out


class PgQueryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def ping(self) -> bool:
        return await self.pool.fetchval("SELECT 1") == 1

    # --- one record ----------------------------------------------------------------------------------

    async def record(self, case_key: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(f"SELECT {RECORD_COLUMNS} FROM records WHERE case_key=$1", case_key)
        if row is None:
            return None
        out = dict(row)
        out["archived_event"] = json.loads(out["archived_event"])
        return out

    async def files(self, case_key: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {FILE_COLUMNS} FROM record_files WHERE case_key=$1 ORDER BY seq", case_key
        )
        return [dict(r) for r in rows]

    async def file(self, case_key: str, seq: int) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {FILE_COLUMNS} FROM record_files WHERE case_key=$1 AND seq=$2", case_key, seq
        )
        return dict(row) if row else None

    async def preservation_events(self, case_key: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT seq, event_id, event_type, event_type_uri, event_time, outcome, detail, agent
               FROM preservation_events WHERE case_key=$1 ORDER BY seq""",
            case_key,
        )
        return [dict(r) for r in rows]

    async def fixity_checks(self, case_key: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT id, checked_at, outcome, reason, expected_sha256, computed_sha256, failed_paths, agent,
                      package_key, version_id
               FROM fixity_checks WHERE case_key=$1 ORDER BY checked_at, id""",
            case_key,
        )
        return [dict(r) for r in rows]

    async def record_fixity_check(self, row: FixityCheckRow) -> None:
        await record_fixity_check(self.pool, row)

    async def archived_revisions(self, platform: str, case_number: str) -> list[dict[str, Any]]:
        """Every archived revision of a case number, oldest first: the chain of corrections."""
        rows = await self.pool.fetch(
            """SELECT case_key, revision, archival_code, archived_at, package_sha256, superseded_by_revision
               FROM records WHERE source_platform=$1 AND case_number=$2 ORDER BY revision""",
            platform,
            case_number,
        )
        return [dict(r) for r in rows]

    # --- a case's status, for its platform ----------------------------------------------------------

    async def case_status(self, platform: str, case_number: str) -> list[dict[str, Any]]:
        """Every revision of a platform's case number that the archive has heard of, oldest first, each
        with its steps (the progress journal), its quarantine entry, its review and its archived record."""
        progress, quarantined, reviews, records = await asyncio.gather(
            self.pool.fetch(
                """SELECT revision, case_key, state, service, event_id, details, at FROM case_progress
                   WHERE source_platform=$1 AND case_number=$2 ORDER BY revision, at""",
                platform,
                case_number,
            ),
            self.pool.fetch(
                """SELECT revision, case_key, stage, status, opened_at, closed_at, closed_by_revision, failures,
                          department_code, resolution FROM quarantine
                   WHERE source_platform=$1 AND case_number=$2""",
                platform,
                case_number,
            ),
            self.pool.fetch(
                """SELECT case_key, status, reason, queued_at, decided_at FROM classification_reviews
                   WHERE source_platform=$1 AND case_key LIKE $2""",
                platform,
                f"{platform}/{_like_escape(case_number)}/r%",
            ),
            self.pool.fetch(
                """SELECT revision, case_key, archival_code, archived_at, package_sha256, package_key,
                          superseded_by_revision, department_code FROM records
                   WHERE source_platform=$1 AND case_number=$2""",
                platform,
                case_number,
            ),
        )
        revisions: dict[int, dict[str, Any]] = {}

        def revision(number: int, case_key: str) -> dict[str, Any]:
            return revisions.setdefault(
                number, {"revision": number, "case_key": case_key, "steps": [], "quarantine": None, "review": None}
            )

        for r in progress:
            details = json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]
            revision(r["revision"], r["case_key"])["steps"].append(
                {"state": r["state"], "at": r["at"], "service": r["service"], "event_id": r["event_id"], **details}
            )
        for r in quarantined:
            entry = _quarantine_json(r)
            revision(entry.pop("revision"), entry.pop("case_key"))["quarantine"] = entry
        for r in reviews:
            number = int(r["case_key"].rsplit("/r", 1)[1])
            revision(number, r["case_key"])["review"] = {
                k: r[k] for k in ("status", "reason", "queued_at", "decided_at")
            }
        for r in records:
            revision(r["revision"], r["case_key"])["record"] = {
                k: r[k]
                for k in ("archival_code", "archived_at", "package_sha256", "package_key", "superseded_by_revision")
            } | {"department_code": r["department_code"]}
        return [revisions[n] for n in sorted(revisions)]

    async def platforms_of_case_number(self, case_number: str) -> list[str]:
        """The platforms that have sent a case under this number (an operator may not name the platform)."""
        rows = await self.pool.fetch(
            """SELECT source_platform FROM case_progress WHERE case_number=$1
               UNION SELECT source_platform FROM quarantine WHERE case_number=$1
               UNION SELECT source_platform FROM records WHERE case_number=$1 ORDER BY 1""",
            case_number,
        )
        return [r["source_platform"] for r in rows]

    async def overdue_rectifications(self, *, now: datetime, days: int, scope: QueueScope) -> list[dict[str, Any]]:
        """Rejected case revisions with no resubmission for more than `days` days at `now`: open quarantine
        entries of which no later revision was ever received, counted per platform and department, with the
        cases themselves (oldest first). `now` is a parameter so that tests and reports choose the clock."""
        args: list[Any] = [now, days]
        clauses = self._queue_scope_sql(scope, args, "q.department_code", "q.source_platform")
        rows = await self.pool.fetch(
            f"""SELECT q.source_platform, coalesce(q.department_code, '(unknown)') AS department_code,
                       q.department_name, q.case_key, q.case_number, q.revision, q.case_title, q.stage,
                       q.opened_at, q.failures,
                       floor(extract(epoch FROM ($1::timestamptz - q.opened_at)) / 86400)::int AS days_open
                FROM quarantine q
                WHERE q.status = 'open' AND q.opened_at < $1::timestamptz - make_interval(days => $2::int)
                  AND NOT EXISTS (SELECT 1 FROM case_progress p WHERE p.source_platform = q.source_platform
                                  AND p.case_number = q.case_number AND p.revision > q.revision)
                  {"".join(" AND " + c for c in clauses)}
                ORDER BY q.opened_at, q.case_key""",
            *args,
        )
        return [_quarantine_json(r) for r in rows]

    # --- quarantine ----------------------------------------------------------------------------------

    @staticmethod
    def _queue_scope_sql(scope: QueueScope, args: list[Any], department_expr: str, platform_expr: str) -> list[str]:
        clauses = []
        if scope.platform_id is not None:
            args.append(scope.platform_id)
            clauses.append(f"{platform_expr} = ${len(args)}")
        if scope.departments:
            args.append(sorted(scope.departments))
            clauses.append(f"{department_expr} = ANY(${len(args)}::text[])")
        return clauses

    async def quarantine_page(
        self, *, status: str | None, scope: QueueScope, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Entries, oldest first (the queue is worked from its head), keyset-paged on (opened_at, case_key)."""
        args: list[Any] = []
        clauses = self._queue_scope_sql(scope, args, "department_code", "source_platform")
        return await self._queue_page(
            "SELECT * FROM quarantine", "opened_at", clauses, args, status, limit, cursor, _quarantine_json
        )

    async def quarantine_entry(self, case_key: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM quarantine WHERE case_key=$1", case_key)
        return _quarantine_json(row) if row else None

    async def resolve_quarantine(
        self, case_key: str, *, resolved_by: str, resolution: str, note: str | None
    ) -> ResolveOutcome:
        """Resolve an open entry by hand. Only `open` entries can be resolved: a closed or superseded one was
        settled by a later revision, and a resolved one by a person already."""
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, not {resolution!r}")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE quarantine SET status='resolved', resolved_by=$2, resolution=$3, resolution_note=$4,
                          closed_at=now()
                   WHERE case_key=$1 AND status='open' RETURNING *""",
                case_key,
                resolved_by,
                resolution,
                note,
            )
            if row is not None:
                return ResolveOutcome(_quarantine_json(row))
            current = await conn.fetchrow("SELECT * FROM quarantine WHERE case_key=$1", case_key)
        if current is None:
            return ResolveOutcome(None, refused=None)
        entry = _quarantine_json(current)
        if entry["status"] == "resolved":
            why = (
                f"{case_key} was already resolved by {entry['resolved_by']} at "
                f"{entry['closed_at']:%Y-%m-%d %H:%M:%S%z} ({entry['resolution']}); nothing was changed"
            )
        else:
            how = f"by revision {entry['closed_by_revision']}" if entry["closed_by_revision"] is not None else "already"
            why = f"{case_key} is {entry['status']} ({how}); only an open entry can be resolved, nothing was changed"
        return ResolveOutcome(entry, refused=why)

    # --- manual review ----------------------------------------------------------------------------------

    async def reviews_page(
        self, *, status: str | None, scope: QueueScope, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        args: list[Any] = []
        clauses = self._queue_scope_sql(
            scope, args, "validated_event->'data'->'case'->>'department_code'", "source_platform"
        )
        select = """SELECT case_key, status, reason, schedule_version, source_platform, item_code, item_name,
                           case_title, validated_event->'data'->'case'->>'department_code' AS department_code,
                           validated_event->'data'->'case'->>'department_name' AS department_name,
                           queued_at, decided_by, decided_at, decision
                    FROM classification_reviews"""
        return await self._queue_page(select, "queued_at", clauses, args, status, limit, cursor, _review_json)

    async def _queue_page(
        self,
        select: str,
        time_column: str,
        clauses: list[str],
        args: list[Any],
        status: str | None,
        limit: int,
        cursor: str | None,
        to_json: Callable[[asyncpg.Record], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a queue, oldest first, keyset-paged on (`time_column`, case_key)."""
        if status is not None:
            args.append(status)
            clauses.append(f"status = ${len(args)}")
        if cursor:
            after_time, after_key = _decode(cursor)
            args += [after_time, after_key]
            clauses.append(f"({time_column}, case_key) > (${len(args) - 1}, ${len(args)})")
        args.append(limit + 1)
        rows = await self.pool.fetch(
            f"{select} WHERE {' AND '.join(clauses) or 'true'} ORDER BY {time_column}, case_key LIMIT ${len(args)}",
            *args,
        )
        items = [to_json(r) for r in rows[:limit]]
        more = len(rows) > limit
        return items, (_encode([items[-1][time_column], items[-1]["case_key"]]) if more and items else None)

    # --- statistics --------------------------------------------------------------------------------------

    async def stats(
        self, dimension: str, *, scope: RecordScope, since: date | None, until: date | None
    ) -> list[dict[str, Any]]:
        """Archived records (by archived_at) and rejected case revisions (quarantine entries, by opened_at)
        per day (China Standard Time, like the search's dates), platform or department; for `defect`,
        failures per check code. `until` is inclusive."""
        if dimension not in STATS_DIMENSIONS:
            raise ValueError(f"by must be one of {', '.join(STATS_DIMENSIONS)}")
        rec_args: list[Any] = []
        rec_where = self._record_scope_sql(scope, rec_args)
        rec_where += self._range_sql("archived_at", since, until, rec_args)
        q_args: list[Any] = []
        q_where = self._queue_scope_sql(
            QueueScope(scope.platform_id, scope.departments), q_args, "department_code", "source_platform"
        )
        q_where += self._range_sql("opened_at", since, until, q_args)
        if dimension == "defect":
            rows = await self.pool.fetch(
                f"""SELECT f->>'code' AS code, count(*) AS failures, count(DISTINCT q.case_key) AS cases
                    FROM quarantine q, jsonb_array_elements(q.failures) f
                    WHERE {" AND ".join(q_where) or "true"}
                    GROUP BY f->>'code' ORDER BY failures DESC, code""",
                *q_args,
            )
            return [dict(r) for r in rows]
        key_rec, key_q = {
            "day": (
                f"(archived_at AT TIME ZONE '{CHINA_TIME_ZONE_NAME}')::date::text",
                f"(opened_at AT TIME ZONE '{CHINA_TIME_ZONE_NAME}')::date::text",
            ),
            "platform": ("source_platform", "source_platform"),
            "department": ("department_code", "coalesce(department_code, '(unknown)')"),
        }[dimension]
        archived = await self.pool.fetch(
            f"SELECT {key_rec} AS key, count(*) AS n FROM records WHERE {' AND '.join(rec_where) or 'true'} GROUP BY 1",
            *rec_args,
        )
        rejected = await self.pool.fetch(
            f"SELECT {key_q} AS key, count(*) AS n FROM quarantine WHERE {' AND '.join(q_where) or 'true'} GROUP BY 1",
            *q_args,
        )
        counts: dict[str, dict[str, Any]] = {}
        for name, rows in (("archived", archived), ("rejected", rejected)):
            for r in rows:
                counts.setdefault(r["key"], {"key": r["key"], "archived": 0, "rejected": 0})[name] = r["n"]
        return [counts[k] for k in sorted(counts)]

    @staticmethod
    def _record_scope_sql(scope: RecordScope, args: list[Any]) -> list[str]:
        clauses = []
        if scope.platform_id is not None:
            args.append(scope.platform_id)
            clauses.append(f"source_platform = ${len(args)}")
        if scope.departments:
            args.append(sorted(scope.departments))
            clauses.append(f"department_code = ANY(${len(args)}::text[])")
        args.append(sorted(scope.sharing_levels))
        clauses.append(f"sharing_level = ANY(${len(args)}::text[])")
        args.append(list(scope.security_levels))
        clauses.append(f"security_level = ANY(${len(args)}::text[])")
        return clauses

    @staticmethod
    def _range_sql(column: str, since: date | None, until: date | None, args: list[Any]) -> list[str]:
        clauses = []
        if since is not None:
            args.append(since)
            clauses.append(f"{column} >= (${len(args)}::date::timestamp AT TIME ZONE '{CHINA_TIME_ZONE_NAME}')")
        if until is not None:
            args.append(until)
            clauses.append(f"{column} < ((${len(args)}::date + 1)::timestamp AT TIME ZONE '{CHINA_TIME_ZONE_NAME}')")
        return clauses
