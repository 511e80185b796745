"""The operations dashboard's reads from the index (PostgreSQL, asyncpg): each method is one or two small
aggregate queries over indexed columns, returning plain dicts for the pure shaping in
services/query/dashboard_data.py.

`departments` narrows every count to those departments (a key scoped to departments sees only theirs);
None means every department. `now` is passed in so that every window of one snapshot ends at the same
instant, and so that the windows are the caller's clock, not the database's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

import services.storage.disposal as disposal
from services.query.adapters.query_store import PgQueryStore, QueueScope

# Every query takes the department filter as $1 (text[] or NULL).
_RECORD_SCOPE = "($1::text[] IS NULL OR r.department_code = ANY($1::text[]))"
_QUARANTINE_SCOPE = "($1::text[] IS NULL OR q.department_code = ANY($1::text[]))"
DISPOSITION_LIMIT = 10_000  # records due that the dashboard counts; more is a backlog to see in the CLI
_REVIEW_SCOPE = "($1::text[] IS NULL OR (c.validated_event #>> '{data,case,department_code}') = ANY($1::text[]))"


class PgDashboardQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def throughput(self, now: datetime, departments: Sequence[str] | None) -> dict[str, Any]:
        """Records archived in the windows ending at `now`, the per-minute counts of the last hour, and
        the total."""
        scope = _scope(departments)
        async with self.pool.acquire() as conn:
            windows = await conn.fetchrow(
                f"""SELECT
                      count(*) FILTER (WHERE r.archived_at >= $2::timestamptz - interval '1 minute')  AS last_minute,
                      count(*) FILTER (WHERE r.archived_at >= $2::timestamptz - interval '5 minutes') AS last_5_minutes,
                      count(*) FILTER (WHERE r.archived_at >= $2::timestamptz - interval '1 hour')    AS last_hour,
                      count(*)                                                           AS last_24_hours
                    FROM records r
                    WHERE r.archived_at >= $2::timestamptz - interval '24 hours' AND {_RECORD_SCOPE}""",
                scope,
                now,
            )
            minutes = await conn.fetch(
                f"""SELECT date_trunc('minute', r.archived_at) AS minute, count(*) AS archived
                    FROM records r
                    WHERE r.archived_at >= date_trunc('minute', $2::timestamptz) - interval '59 minutes'
                      AND {_RECORD_SCOPE}
                    GROUP BY 1""",
                scope,
                now,
            )
            total = await conn.fetchval(f"SELECT count(*) FROM records r WHERE {_RECORD_SCOPE}", scope)
        return {**dict(windows), "total": total, "per_minute": [dict(m) for m in minutes]}

    async def rejects(self, now: datetime, departments: Sequence[str] | None) -> dict[str, Any]:
        """Quarantine entries by failed check code and by department: open ones, and opened in 24 h."""
        scope = _scope(departments)
        relevant = (
            f"(q.status = 'open' OR q.opened_at >= $2::timestamptz - interval '24 hours') AND {_QUARANTINE_SCOPE}"
        )
        async with self.pool.acquire() as conn:
            by_code = await conn.fetch(
                f"""SELECT f.failure ->> 'code' AS code,
                      count(DISTINCT q.case_key) FILTER (WHERE q.status = 'open') AS open,
                      count(DISTINCT q.case_key) FILTER (WHERE q.opened_at >= $2::timestamptz - interval '24 hours')
                        AS last_24_hours
                    FROM quarantine q
                    CROSS JOIN LATERAL jsonb_array_elements(
                        CASE WHEN jsonb_typeof(q.failures) = 'array' THEN q.failures ELSE '[]'::jsonb END
                    ) AS f(failure)
                    WHERE {relevant}
                    GROUP BY 1""",
                scope,
                now,
            )
            by_department = await conn.fetch(
                f"""SELECT q.department_code, max(q.department_name) AS department_name,
                      count(*) FILTER (WHERE q.status = 'open') AS open,
                      count(*) FILTER (WHERE q.opened_at >= $2::timestamptz - interval '24 hours') AS last_24_hours
                    FROM quarantine q
                    WHERE {relevant}
                    GROUP BY 1""",
                scope,
                now,
            )
        return {"by_code": [dict(r) for r in by_code], "by_department": [dict(r) for r in by_department]}

    async def fixity(self, departments: Sequence[str] | None, failed_limit: int) -> dict[str, Any]:
        """Packages and the outcome of each one's latest fixity check."""
        return await self._latest_outcomes("fixity_checks", departments, failed_limit)

    async def _latest_outcomes(
        self, table: str, departments: Sequence[str] | None, failed_limit: int
    ) -> dict[str, Any]:
        """Packages and the outcome of each one's latest row in `table` (fixity_checks, revalidations: both
        have case_key, outcome, checked_at, reason, id); `table` is one of this module's literals."""
        scope = _scope(departments)
        latest = f"""SELECT DISTINCT ON (f.case_key) f.case_key, f.outcome, f.checked_at, f.reason
                    FROM {table} f ORDER BY f.case_key, f.checked_at DESC, f.id DESC"""
        async with self.pool.acquire() as conn:
            summary = await conn.fetchrow(
                f"""WITH latest AS ({latest})
                    SELECT
                      (SELECT count(*) FROM records r WHERE r.package_key IS NOT NULL AND {_RECORD_SCOPE})
                        AS packages,
                      count(l.case_key) AS checked,
                      count(*) FILTER (WHERE l.outcome = 'pass') AS passed,
                      count(*) FILTER (WHERE l.outcome = 'fail') AS failed,
                      max(l.checked_at) AS last_checked_at
                    FROM latest l JOIN records r ON r.case_key = l.case_key
                    WHERE r.package_key IS NOT NULL AND {_RECORD_SCOPE}""",
                scope,
            )
            failed = await conn.fetch(
                f"""WITH latest AS ({latest})
                    SELECT l.case_key, r.archival_code, r.case_title, l.checked_at, l.reason
                    FROM latest l JOIN records r ON r.case_key = l.case_key
                    WHERE l.outcome = 'fail' AND {_RECORD_SCOPE}
                    ORDER BY l.checked_at DESC, l.case_key
                    LIMIT $2""",
                scope,
                failed_limit,
            )
        return {**dict(summary), "failed_packages": [dict(r) for r in failed]}

    async def restore_test(self, now: datetime, days: int, departments: Sequence[str] | None) -> dict[str, Any]:
        """The restore test's last run (its rows share the run's start as tested_at), the counts of that
        run and of the `days` ending at `now`, the newest failure, and the packages without a replica copy.
        The last run's time is everyone's (it names no record); its counts, like the rest, are the
        caller's departments only."""
        scope = _scope(departments)
        tested = f"restore_tests t LEFT JOIN records r ON r.case_key = t.case_key WHERE {_RECORD_SCOPE}"
        async with self.pool.acquire() as conn:
            last_run_at = await conn.fetchval("SELECT max(tested_at) FROM restore_tests")
            counts = await conn.fetchrow(
                f"""SELECT
                      count(*) FILTER (WHERE t.tested_at = $2)                             AS last_run_tested,
                      count(*) FILTER (WHERE t.tested_at = $2 AND t.outcome = 'pass')      AS last_run_passed,
                      count(*) FILTER (WHERE t.tested_at = $2 AND t.outcome = 'fail')      AS last_run_failed,
                      count(*) FILTER (WHERE t.tested_at >= $3)                            AS window_tested,
                      count(*) FILTER (WHERE t.tested_at >= $3 AND t.outcome = 'pass')     AS window_passed,
                      count(*) FILTER (WHERE t.tested_at >= $3 AND t.outcome = 'fail')     AS window_failed
                    FROM {tested} AND t.tested_at >= least($2, $3)""",
                scope,
                last_run_at,
                now - timedelta(days=days),
            )
            failure = await conn.fetchrow(
                f"""SELECT t.case_key, r.archival_code, t.tested_at, t.reason FROM {tested} AND t.outcome = 'fail'
                    ORDER BY t.tested_at DESC, t.id DESC LIMIT 1""",
                scope,
            )
            replica = await conn.fetchrow(
                f"""SELECT count(*) AS packages,
                      count(*) FILTER (WHERE r.replica_version_id IS NULL) AS without_replica,
                      min(r.archived_at) FILTER (WHERE r.replica_version_id IS NULL) AS oldest_without_replica
                    FROM records r WHERE r.package_key IS NOT NULL AND {_RECORD_SCOPE}""",
                scope,
            )
        return {
            "last_run_at": last_run_at,
            **dict(counts),
            "newest_failure": dict(failure) if failure else None,
            **dict(replica),
        }

    async def revalidation(self, departments: Sequence[str] | None, failed_limit: int) -> dict[str, Any]:
        """Packages and the outcome of each one's latest four-property re-check (at preservation time or at
        transfer: services/storage/revalidation.py), in the fixity part's shape."""
        return await self._latest_outcomes("revalidations", departments, failed_limit)

    async def poison_pills(self, now: datetime, latest: int) -> dict[str, Any]:
        """Messages set aside after K worker deaths: how many (ever, last 24 h) and the latest `latest`."""
        async with self.pool.acquire() as conn:
            counts = await conn.fetchrow(
                """SELECT count(*) AS total,
                          count(*) FILTER (WHERE set_aside_at >= $1::timestamptz - interval '24 hours') AS last_24_hours
                   FROM poison_pills""",
                now,
            )
            rows = await conn.fetch(
                """SELECT service, topic, partition, "offset", origin_key, deaths, set_aside_at
                   FROM poison_pills ORDER BY set_aside_at DESC LIMIT $1""",
                latest,
            )
        return {**dict(counts), "latest": [dict(r) for r in rows]}

    async def queues(self, departments: Sequence[str] | None, oldest: int) -> dict[str, Any]:
        """Open quarantine entries and waiting manual reviews: how many, and the oldest `oldest` of each."""
        scope = _scope(departments)
        async with self.pool.acquire() as conn:
            open_count = await conn.fetchval(
                f"SELECT count(*) FROM quarantine q WHERE q.status = 'open' AND {_QUARANTINE_SCOPE}", scope
            )
            entries = await conn.fetch(
                f"""SELECT q.case_key, q.source_platform, q.case_number, q.revision, q.case_title,
                      q.department_code, q.department_name, q.item_code, q.failures, q.opened_at
                    FROM quarantine q
                    WHERE q.status = 'open' AND {_QUARANTINE_SCOPE}
                    ORDER BY q.opened_at, q.case_key
                    LIMIT $2""",
                scope,
                oldest,
            )
            waiting = await conn.fetchval(
                f"SELECT count(*) FROM classification_reviews c WHERE c.status = 'waiting' AND {_REVIEW_SCOPE}",
                scope,
            )
            reviews = await conn.fetch(
                f"""SELECT c.case_key, c.source_platform, c.item_code, c.item_name, c.case_title, c.reason,
                      c.schedule_version, c.queued_at
                    FROM classification_reviews c
                    WHERE c.status = 'waiting' AND {_REVIEW_SCOPE}
                    ORDER BY c.queued_at, c.case_key
                    LIMIT $2""",
                scope,
                oldest,
            )
        return {
            "quarantine_open": open_count,
            "quarantine_oldest": [{**dict(r), "failures": _json_list(r["failures"])} for r in entries],
            "reviews_waiting": waiting,
            "reviews_oldest": [dict(r) for r in reviews],
        }

    async def overdue(self, now: datetime, days: int, departments: Sequence[str] | None) -> list[dict[str, Any]]:
        """Overdue rectifications, as the API lists them (one query, in PgQueryStore)."""
        scope = QueueScope(platform_id=None, departments=frozenset(departments or ()))
        return await PgQueryStore(self.pool).overdue_rectifications(now=now, days=days, scope=scope)

    async def disposition(self, now: datetime, departments: Sequence[str] | None) -> list[dict[str, Any]]:
        """Records past their retention at `now`, as `archivectl disposition due` lists them."""
        rows = await disposal.due(disposal.disposition_store(self.pool), now, limit=DISPOSITION_LIMIT)
        return [r for r in rows if not departments or r["department_code"] in departments]


def _scope(departments: Sequence[str] | None) -> list[str] | None:
    return list(departments) if departments else None


def _json_list(value: Any) -> list[Any]:
    # asyncpg hands jsonb over as text unless a codec is set on the pool; accept both.
    parsed = json.loads(value) if isinstance(value, str | bytes) else value
    return parsed if isinstance(parsed, list) else []
