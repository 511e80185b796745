"""The operations dashboard's data (`GET /api/v1/dashboard`): throughput, backlog per topic, rejects by
defect and by department, fixity status, the restore test and the replica copies, the queues to work.

The shaping — windows, the per-minute series, lag arithmetic, sorting, labels — is pure functions on plain
data (tests/unit/test_dashboard_data.py). `Dashboard` at the bottom puts them together with the two
adapters (services/query/adapters/dashboard_queries.py, services/common/adapters/consumer_lag.py) and a
short cache, so that any number of open pages polling every few seconds cost one set of queries per few
seconds.

Each part stands alone: a part whose source fails says so (`ok: false`, `error`) and the others are
still served, so a Kafka outage shows as a banner on the backlog, not as a blank page."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.v1 import topics
from services.common.adapters.consumer_lag import GroupInput, GroupOffsets, KafkaUnavailable
from services.common.settings import ArchiveSettings

log = logging.getLogger(__name__)

# Which consumer group reads which topic (services/*/app.py create_app input_topic), in pipeline order.
PIPELINE_INPUTS: tuple[tuple[str, str], ...] = (
    ("capture", topics.APPROVAL_COMPLETED),
    ("validation", topics.CAPTURED),
    ("classification", topics.VALIDATED),
    ("storage", topics.CLASSIFIED),
)

DEFAULT_REFRESH_SECONDS = 5
DEFAULT_QUEUE_ROWS = 10
MAX_QUEUE_ROWS = 100
MIN_REFRESH_SECONDS = 1
MAX_REFRESH_SECONDS = 300
SERIES_MINUTES = 60
RESTORE_TEST_WINDOW_DAYS = 7  # "the last 7 days" of the restore test; no run in it at all is "stale"
RESTORE_TEST_COMMAND = "archivectl restore-test --sample 5"
UNKNOWN_DEPARTMENT = {"code": "", "name": "未知 unknown"}

# How long each part is reused. Throughput and queues are what an operator watches move; the backlog
# costs a few broker round trips; fixity changes once a day (the audit) and scans fixity_checks.
CACHE_SECONDS = {
    "throughput": 2.0,
    "queues": 1.0,
    "rejects": 5.0,
    "backlog": 3.0,
    "fixity": 10.0,
    "restore_test": 30.0,  # a run a day; it reads restore_tests and counts the records without a replica
    "revalidation": 10.0,
    "poison_pills": 5.0,
    "overdue": 30.0,
    "disposition": 30.0,
}


def refresh_seconds(requested: str | int | None) -> int:
    """The page's polling interval: the `?refresh=` query parameter if it is a sensible number of
    seconds, the default otherwise (a typo must not turn the page into a load test)."""
    try:
        value = int(str(requested).strip()) if requested is not None else DEFAULT_REFRESH_SECONDS
    except ValueError:
        return DEFAULT_REFRESH_SECONDS
    return min(max(value, MIN_REFRESH_SECONDS), MAX_REFRESH_SECONDS)


def group_inputs(settings: ArchiveSettings) -> list[GroupInput]:
    """The pipeline's consumer groups with their input topics, as named in this namespace."""
    return [
        GroupInput(service, settings.group_id(service), settings.topic(topic)) for service, topic in PIPELINE_INPUTS
    ]


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


# --- throughput ----------------------------------------------------------------------------------------


def minute_series(
    counts: Iterable[Mapping[str, Any]], now: datetime, minutes: int = SERIES_MINUTES
) -> list[dict[str, Any]]:
    """Archived records per minute, oldest first, exactly `minutes` entries ending with the current
    (partial) minute; minutes without any record are 0, counts outside the window are left out."""
    last = floor_minute(now)
    first = last - timedelta(minutes=minutes - 1)
    by_minute: dict[datetime, int] = {}
    for row in counts:
        minute = floor_minute(row["minute"])
        if first <= minute <= last:
            by_minute[minute] = by_minute.get(minute, 0) + int(row["archived"])
    return [
        {"minute": iso(first + timedelta(minutes=i)), "archived": by_minute.get(first + timedelta(minutes=i), 0)}
        for i in range(minutes)
    ]


def throughput_part(raw: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "ok": True,
        "last_minute": int(raw["last_minute"]),
        "last_5_minutes": int(raw["last_5_minutes"]),
        "last_hour": int(raw["last_hour"]),
        "last_24_hours": int(raw["last_24_hours"]),
        "total": int(raw["total"]),
        "per_minute": minute_series(raw["per_minute"], now),
    }


# --- backlog -------------------------------------------------------------------------------------------


def partition_lag(start: int, end: int, committed: int | None) -> int:
    """Messages the group has still to read on one partition. A group that never committed reads from
    the log start (auto_offset_reset earliest); a commit behind the log start (retention deleted the
    messages) cannot be read from either, so both count from the log start."""
    position = start if committed is None else max(committed, start)
    return max(end - position, 0)


def backlog_part(offsets: Sequence[GroupOffsets], checked_at: datetime) -> dict[str, Any]:
    stages = []
    for group in offsets:
        partitions: list[dict[str, Any]] = [
            {
                "partition": p.partition,
                "end_offset": p.end,
                "committed": p.committed,
                "lag": partition_lag(p.start, p.end, p.committed),
            }
            for p in sorted(group.partitions, key=lambda p: p.partition)
        ]
        stages.append(
            {
                "service": group.group.service,
                "group_id": group.group.group_id,
                "topic": group.group.topic,
                "topic_exists": group.topic_exists,
                "lag": sum(p["lag"] for p in partitions),
                "end_offset": sum(p["end_offset"] for p in partitions),
                # A group that has not committed anywhere has not started (or never read a message).
                "started": any(p["committed"] is not None for p in partitions),
                "partitions": partitions,
            }
        )
    return {
        "ok": True,
        "checked_at": iso(checked_at),
        "total_lag": sum(s["lag"] for s in stages),
        "stages": stages,
    }


def backlog_unavailable(groups: Sequence[GroupInput], error: str, checked_at: datetime) -> dict[str, Any]:
    """The backlog part when Kafka does not answer: which groups, and what went wrong."""
    return {
        "ok": False,
        "error": f"{error}; the backlog is unknown until it answers again (other numbers are unaffected)",
        "checked_at": iso(checked_at),
        "stages": [{"service": g.service, "group_id": g.group_id, "topic": g.topic, "lag": None} for g in groups],
    }


# --- rejects -------------------------------------------------------------------------------------------


def rejects_part(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Counts per check code and per department, most open first (then most in 24 h, then by name)."""
    by_defect: list[dict[str, Any]] = [
        {"code": r["code"] or "?", "open": int(r["open"]), "last_24_hours": int(r["last_24_hours"])}
        for r in raw["by_code"]
    ]
    by_department: list[dict[str, Any]] = [
        {
            "department_code": r["department_code"] or UNKNOWN_DEPARTMENT["code"],
            "department_name": r["department_name"] or UNKNOWN_DEPARTMENT["name"],
            "open": int(r["open"]),
            "last_24_hours": int(r["last_24_hours"]),
        }
        for r in raw["by_department"]
    ]
    by_defect.sort(key=lambda r: (-r["open"], -r["last_24_hours"], r["code"]))
    by_department.sort(key=lambda r: (-r["open"], -r["last_24_hours"], r["department_code"]))
    return {"ok": True, "by_defect": by_defect, "by_department": by_department}


# --- fixity --------------------------------------------------------------------------------------------


def fixity_part(raw: Mapping[str, Any]) -> dict[str, Any]:
    packages, checked = int(raw["packages"]), int(raw["checked"])
    failed = int(raw["failed"])
    return {
        "ok": True,
        "packages": packages,
        "checked": checked,
        "passed": int(raw["passed"]),
        "failed": failed,
        "never_checked": max(packages - checked, 0),
        "last_checked_at": iso(raw["last_checked_at"]),
        "status": "failed" if failed else ("unchecked" if checked == 0 and packages else "ok"),
        "failed_packages": [
            {
                "case_key": r["case_key"],
                "archival_code": r["archival_code"],
                "case_title": r["case_title"],
                "checked_at": iso(r["checked_at"]),
                "reason": r["reason"],
            }
            for r in raw["failed_packages"]
        ],
    }


# --- restore test and replica copies -------------------------------------------------------------------


def restore_test_status(
    *, replica_configured: bool, last_run_at: datetime | None, last_run_failed: int, now: datetime
) -> str:
    """`no_replica` (a one-site deployment: nothing to restore from), `never_run`, `failed` (the last run
    had a package that did not restore), `stale` (no run in the last RESTORE_TEST_WINDOW_DAYS days: the
    schedule has stopped), else `ok`. The last run's time is everyone's, so a caller scoped to departments
    none of whose packages the last run picked still sees the schedule as running."""
    if not replica_configured:
        return "no_replica"
    if last_run_at is None:
        return "never_run"
    if last_run_failed:
        return "failed"
    return "stale" if now - last_run_at > timedelta(days=RESTORE_TEST_WINDOW_DAYS) else "ok"


def restore_test_part(raw: Mapping[str, Any], now: datetime, *, replica_configured: bool = True) -> dict[str, Any]:
    """The scheduled restore test (services/storage/restore_test.py) and the packages' replica copies.

    `raw` (PgDashboardQueries.restore_test): the newest run's time (every row of a run carries the run's
    start), the counts of that run and of the window, the newest failure, and the packages without a
    replica copy. A package archived without a replica (a one-site deployment, or archived before the
    second site) has a replica lag: its age."""
    last_run_at = raw["last_run_at"]
    last_run_failed = int(raw["last_run_failed"])
    last_run: dict[str, Any] = {
        "at": iso(last_run_at),
        "tested": int(raw["last_run_tested"]),
        "passed": int(raw["last_run_passed"]),
        "failed": last_run_failed,
    }
    window: dict[str, Any] = {
        "days": RESTORE_TEST_WINDOW_DAYS,
        "tested": int(raw["window_tested"]),
        "passed": int(raw["window_passed"]),
        "failed": int(raw["window_failed"]),
    }
    failure = raw.get("newest_failure")
    oldest_missing = raw["oldest_without_replica"]
    packages, missing = int(raw["packages"]), int(raw["without_replica"])
    return {
        "ok": True,
        "status": restore_test_status(
            replica_configured=replica_configured,
            last_run_at=last_run_at,
            last_run_failed=last_run_failed,
            now=now,
        ),
        "command": RESTORE_TEST_COMMAND,
        "last_run": last_run,
        "window": window,
        "newest_failure": None
        if not failure
        else {
            "case_key": failure["case_key"],
            "archival_code": failure.get("archival_code"),
            "tested_at": iso(failure["tested_at"]),
            "reason": failure["reason"],
        },
        "replica": {
            "configured": replica_configured,
            "packages": packages,
            "with_replica": max(packages - missing, 0),
            "without_replica": missing,
            "oldest_without_replica_archived_at": iso(oldest_missing),
            "lag_seconds": max(int((now - oldest_missing).total_seconds()), 0) if oldest_missing else 0,
        },
    }


# --- poison pills ---------------------------------------------------------------------------------------


def poison_pills_part(raw: Mapping[str, Any], *, scoped: bool) -> dict[str, Any]:
    """Messages set aside because a worker died on them K times (docs/reliability.md). They are named by
    topic position, not by department, so a caller scoped to departments sees the counts only."""
    total = int(raw["total"])
    return {
        "ok": True,
        "total": total,
        "last_24_hours": int(raw["last_24_hours"]),
        "status": "set_aside" if total else "ok",
        "latest": []
        if scoped
        else [
            {
                "service": r["service"],
                "topic": r["topic"],
                "partition": r["partition"],
                "offset": r["offset"],
                "origin_key": r["origin_key"],
                "deaths": r["deaths"],
                "set_aside_at": iso(r["set_aside_at"]),
            }
            for r in raw["latest"]
        ],
    }


# --- queues --------------------------------------------------------------------------------------------


def failure_summary(failure: Mapping[str, Any]) -> dict[str, Any]:
    """What a person needs from one failed check to decide: code, the reasons, the file."""
    return {
        "code": failure.get("code") or "?",
        "reason_zh": failure.get("reason_zh"),
        "reason_en": failure.get("reason_en"),
        "file_name": failure.get("file_name"),
    }


def queues_part(raw: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    def age_seconds(moment: datetime) -> int:
        return max(int((now - moment).total_seconds()), 0)

    return {
        "ok": True,
        "quarantine": {
            "open": int(raw["quarantine_open"]),
            "oldest": [
                {
                    "case_key": r["case_key"],
                    "source_platform": r["source_platform"],
                    "case_number": r["case_number"],
                    "revision": r["revision"],
                    "case_title": r["case_title"],
                    "department_code": r["department_code"],
                    "department_name": r["department_name"],
                    "item_code": r["item_code"],
                    "opened_at": iso(r["opened_at"]),
                    "age_seconds": age_seconds(r["opened_at"]),
                    "failures": [failure_summary(f) for f in r["failures"] if isinstance(f, Mapping)],
                }
                for r in raw["quarantine_oldest"]
            ],
        },
        "reviews": {
            "waiting": int(raw["reviews_waiting"]),
            "oldest": [
                {
                    "case_key": r["case_key"],
                    "source_platform": r["source_platform"],
                    "item_code": r["item_code"],
                    "item_name": r["item_name"],
                    "case_title": r["case_title"],
                    "reason": r["reason"],
                    "schedule_version": r["schedule_version"],
                    "queued_at": iso(r["queued_at"]),
                    "age_seconds": age_seconds(r["queued_at"]),
                }
                for r in raw["reviews_oldest"]
            ],
        },
    }


def overdue_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Overdue rectifications counted per platform and department, the longest waiting first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        group = groups.setdefault(
            (r["source_platform"], r["department_code"]),
            {
                "source_platform": r["source_platform"],
                "department_code": r["department_code"],
                "department_name": r.get("department_name"),
                "cases": 0,
                "oldest_days_open": 0,
            },
        )
        group["cases"] += 1
        group["oldest_days_open"] = max(group["oldest_days_open"], r["days_open"])
    return sorted(groups.values(), key=lambda g: (-g["oldest_days_open"], g["source_platform"], g["department_code"]))


def overdue_part(rows: Sequence[Mapping[str, Any]], days: int) -> dict[str, Any]:
    """Overdue rectifications (rejected, no resubmission for more than `days` days): per platform and
    department. A rejection nobody answers is an archive gap."""
    return {"ok": True, "days": days, "cases": len(rows), "by_platform_department": overdue_summary(rows)}


def disposition_part(rows: Sequence[Mapping[str, Any]], oldest: int) -> dict[str, Any]:
    """Records past their retention (services/storage/disposal.py `due`), oldest expiry first: how many,
    how many held, how many with a destruction proposed or approved, and the oldest few."""
    pending = [r["pending"]["status"] for r in rows if r.get("pending")]
    return {
        "ok": True,
        "due": len(rows),
        "held": sum(1 for r in rows if r.get("holds")),
        "proposed": pending.count("proposed"),
        "approved": pending.count("approved"),
        "oldest": [
            {
                "case_key": r["case_key"],
                "archival_code": r["archival_code"],
                "case_title": r["case_title"],
                "retention": r["retention"],
                "expires_at": iso(r["expires_at"]),
                "held": bool(r.get("holds")),
                "pending": r["pending"]["status"] if r.get("pending") else None,
            }
            for r in rows[:oldest]
        ],
    }


def part_failed(part: str, exc: BaseException) -> dict[str, Any]:
    """A part whose source failed: the page shows this message in place of the numbers."""
    source = "the index (PostgreSQL)" if part != "backlog" else "Kafka"
    return {
        "ok": False,
        "error": f"{part} could not be read from {source}: {type(exc).__name__}: {exc}; "
        "the page keeps polling and shows it again when the source answers",
    }


# --- putting it together -------------------------------------------------------------------------------


class DashboardQueries(Protocol):
    async def throughput(self, now: datetime, departments: Sequence[str] | None) -> dict[str, Any]: ...
    async def rejects(self, now: datetime, departments: Sequence[str] | None) -> dict[str, Any]: ...
    async def fixity(self, departments: Sequence[str] | None, failed_limit: int) -> dict[str, Any]: ...
    async def restore_test(self, now: datetime, days: int, departments: Sequence[str] | None) -> dict[str, Any]: ...
    async def revalidation(self, departments: Sequence[str] | None, failed_limit: int) -> dict[str, Any]: ...
    async def queues(self, departments: Sequence[str] | None, oldest: int) -> dict[str, Any]: ...
    async def overdue(self, now: datetime, days: int, departments: Sequence[str] | None) -> list[dict[str, Any]]: ...
    async def poison_pills(self, now: datetime, latest: int) -> dict[str, Any]: ...
    async def disposition(self, now: datetime, departments: Sequence[str] | None) -> list[dict[str, Any]]: ...


class ConsumerLag(Protocol):
    async def offsets(self, groups: Sequence[GroupInput]) -> list[GroupOffsets]: ...
    async def close(self) -> None: ...


class TtlCache:
    """Values kept for a few seconds, one producer at a time per key (concurrent pollers wait for the one
    query instead of each running it). A producer that raises caches nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._values: dict[Any, tuple[float, Any]] = {}
        self._locks: dict[Any, asyncio.Lock] = {}

    async def get(self, key: Any, ttl: float, produce: Callable[[], Awaitable[Any]]) -> Any:
        cached = self._fresh(key, ttl)
        if cached is not None:
            return cached[0]
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._fresh(key, ttl)
            if cached is not None:
                return cached[0]
            value = await produce()
            self._values[key] = (self.clock(), value)
            return value

    def _fresh(self, key: Any, ttl: float) -> tuple[Any] | None:
        entry = self._values.get(key)
        if entry is not None and self.clock() - entry[0] < ttl:
            return (entry[1],)
        return None


@dataclass
class Dashboard:
    queries: DashboardQueries
    lag: ConsumerLag
    groups: Sequence[GroupInput]
    queue_rows: int = DEFAULT_QUEUE_ROWS
    cache_seconds: Mapping[str, float] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    overdue_days: int = 15  # AA_RECTIFICATION_OVERDUE_DAYS
    replica_configured: bool = True  # AA_MINIO_REPLICA_ENDPOINT is set: there is a replica to restore from

    def __post_init__(self) -> None:
        self.cache = TtlCache()
        self.ttl = {**CACHE_SECONDS, **(self.cache_seconds or {})}

    async def snapshot(self, departments: Sequence[str] = (), queue_rows: int | None = None) -> dict[str, Any]:
        """Every part, each read concurrently and each allowed to fail alone. `queue_rows`: how many of the
        oldest quarantine entries and reviews to list (default `self.queue_rows`)."""
        scope = tuple(sorted(departments)) or None
        rows = queue_rows or self.queue_rows
        parts: dict[str, tuple[Any, Callable[[], Awaitable[dict[str, Any]]]]] = {
            "throughput": ((scope,), lambda: self._throughput(scope)),
            # The backlog is the same for every caller (it names topics, not records): one cache entry.
            "backlog": ((), self._backlog),
            "rejects": ((scope,), lambda: self._rejects(scope)),
            "fixity": ((scope,), lambda: self._fixity(scope)),
            "restore_test": ((scope,), lambda: self._restore_test(scope)),
            "revalidation": ((scope,), lambda: self._revalidation(scope)),
            "queues": ((scope, rows), lambda: self._queues(scope, rows)),
            "overdue": ((scope,), lambda: self._overdue(scope)),
            "poison_pills": ((scope is None,), lambda: self._poison_pills(scoped=scope is not None)),
            "disposition": ((scope, rows), lambda: self._disposition(scope, rows)),
        }
        results = await asyncio.gather(*(self._part(name, key, make) for name, (key, make) in parts.items()))
        return {"generated_at": iso(self.now()), **dict(zip(parts, results, strict=True))}

    async def _part(
        self, name: str, key: tuple[Any, ...], make: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        async def stamped() -> dict[str, Any]:
            # When this part was read: a cached part is up to its cache period older than `generated_at`.
            return {**(await make()), "as_of": iso(self.now())}

        try:
            return await self.cache.get((name, *key), self.ttl[name], stamped)
        except Exception as exc:
            log.warning("dashboard part failed", extra={"part": name, "error": f"{type(exc).__name__}: {exc}"})
            return part_failed(name, exc)

    async def _throughput(self, scope: tuple[str, ...] | None) -> dict[str, Any]:
        now = self.now()
        return throughput_part(await self.queries.throughput(now, scope), now)

    async def _backlog(self) -> dict[str, Any]:
        try:
            offsets = await self.lag.offsets(self.groups)
        except KafkaUnavailable as exc:
            # Kept for the cache period like an answer: a dead broker is asked once per period, not per poll.
            return backlog_unavailable(self.groups, str(exc), self.now())
        return backlog_part(offsets, self.now())

    async def _rejects(self, scope: tuple[str, ...] | None) -> dict[str, Any]:
        return rejects_part(await self.queries.rejects(self.now(), scope))

    async def _fixity(self, scope: tuple[str, ...] | None) -> dict[str, Any]:
        return fixity_part(await self.queries.fixity(scope, self.queue_rows))

    async def _restore_test(self, scope: tuple[str, ...] | None) -> dict[str, Any]:
        now = self.now()
        raw = await self.queries.restore_test(now, RESTORE_TEST_WINDOW_DAYS, scope)
        return restore_test_part(raw, now, replica_configured=self.replica_configured)

    async def _revalidation(self, scope: tuple[str, ...] | None) -> dict[str, Any]:
        # The re-check at preservation time has the fixity part's shape: packages, each one's latest result.
        return fixity_part(await self.queries.revalidation(scope, self.queue_rows))

    async def _queues(self, scope: tuple[str, ...] | None, rows: int) -> dict[str, Any]:
        now = self.now()
        return queues_part(await self.queries.queues(scope, rows), now)

    async def _overdue(self, scope: tuple[str, ...] | None) -> dict[str, Any]:
        return overdue_part(await self.queries.overdue(self.now(), self.overdue_days, scope), self.overdue_days)

    async def _poison_pills(self, *, scoped: bool) -> dict[str, Any]:
        return poison_pills_part(await self.queries.poison_pills(self.now(), self.queue_rows), scoped=scoped)

    async def _disposition(self, scope: tuple[str, ...] | None, rows: int) -> dict[str, Any]:
        return disposition_part(await self.queries.disposition(self.now(), scope), rows)

    async def close(self) -> None:
        await self.lag.close()
