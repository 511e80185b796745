"""The dashboard's numbers from plain data: windows and the per-minute series, consumer-lag arithmetic,
rejects, fixity, the restore test and replica copies, the queues; and the assembly — each part failing
alone, Kafka down shown as such, the cache shared by pollers."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.v1 import topics
from services.common.adapters.consumer_lag import GroupInput, GroupOffsets, KafkaUnavailable, PartitionOffsets
from services.common.china_time import CHINA_STANDARD_TIME
from services.common.settings import ArchiveSettings
from services.query.dashboard_data import (
    PIPELINE_INPUTS,
    Dashboard,
    TtlCache,
    backlog_part,
    backlog_unavailable,
    disposition_part,
    fixity_part,
    group_inputs,
    minute_series,
    partition_lag,
    poison_pills_part,
    queues_part,
    refresh_seconds,
    rejects_part,
    restore_test_part,
    throughput_part,
)

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 10, 30, 42, tzinfo=UTC)


# --- settings of the page and the groups ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "seconds"),
    [(None, 5), ("2", 2), (" 10 ", 10), ("0", 1), ("-3", 1), ("9999", 300), ("soon", 5), ("", 5)],
)
def test_the_refresh_interval_is_the_query_parameter_within_bounds(requested, seconds):
    assert refresh_seconds(requested) == seconds


def test_each_pipeline_group_is_watched_on_the_topic_its_service_reads():
    """The dashboard's map of group → input topic is the one services/*/app.py binds."""
    bound = {}
    for service, _ in PIPELINE_INPUTS:
        tree = ast.parse((REPO / "services" / service / "app.py").read_text(encoding="utf-8"))
        [keyword] = [k for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "input_topic"]
        assert isinstance(keyword.value, ast.Attribute), f"{service}: input_topic is not topics.<NAME>"
        bound[service] = getattr(topics, keyword.value.attr)
    assert dict(PIPELINE_INPUTS) == bound
    assert [s for s, _ in PIPELINE_INPUTS] == ["capture", "validation", "classification", "storage"]


def test_groups_and_topics_carry_the_namespace():
    groups = group_inputs(ArchiveSettings(namespace="t123"))
    assert groups[0] == GroupInput("capture", "t123.approval-archive-capture", "t123.approval.completed.v1")
    assert groups[-1] == GroupInput("storage", "t123.approval-archive-storage", "t123.archive.classified.v1")
    plain = group_inputs(ArchiveSettings(namespace=""))
    assert plain[1] == GroupInput("validation", "approval-archive-validation", "archive.captured.v1")


# --- throughput -----------------------------------------------------------------------------------------


def test_the_minute_series_has_sixty_minutes_ending_now_with_gaps_as_zero():
    rows = [
        {"minute": datetime(2026, 11, 25, 10, 30, tzinfo=UTC), "archived": 4},
        {"minute": datetime(2026, 11, 25, 10, 28, tzinfo=UTC), "archived": 7},
        {"minute": datetime(2026, 11, 25, 9, 31, tzinfo=UTC), "archived": 2},  # the first minute in the window
        {"minute": datetime(2026, 11, 25, 9, 30, tzinfo=UTC), "archived": 99},  # one minute too old
    ]
    series = minute_series(rows, NOW)
    assert len(series) == 60
    assert series[0] == {"minute": "2026-11-25T09:31:00Z", "archived": 2}
    assert series[-1] == {"minute": "2026-11-25T10:30:00Z", "archived": 4}
    assert series[-3] == {"minute": "2026-11-25T10:28:00Z", "archived": 7}
    assert sum(m["archived"] for m in series) == 13


def test_minutes_from_the_database_in_another_time_zone_land_on_the_same_minute():
    beijing = CHINA_STANDARD_TIME
    rows = [{"minute": datetime(2026, 11, 25, 18, 29, tzinfo=beijing), "archived": 3}]
    assert minute_series(rows, NOW)[-2] == {"minute": "2026-11-25T10:29:00Z", "archived": 3}


def test_throughput_keeps_the_windows_and_the_total():
    raw = {"last_minute": 1, "last_5_minutes": 3, "last_hour": 9, "last_24_hours": 40, "total": 1234, "per_minute": []}
    part = throughput_part(raw, NOW)
    assert part["ok"] is True
    assert (part["last_minute"], part["last_5_minutes"], part["last_hour"], part["last_24_hours"]) == (1, 3, 9, 40)
    assert part["total"] == 1234
    assert len(part["per_minute"]) == 60 and all(m["archived"] == 0 for m in part["per_minute"])


# --- backlog --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "committed", "lag"),
    [
        (0, 10, 4, 6),  # read 4 of 10
        (0, 10, 10, 0),  # caught up
        (0, 10, None, 10),  # never committed: everything from the log start is to read
        (5, 10, None, 5),  # ... and the log starts at 5
        (5, 10, 2, 5),  # committed behind the log start (retention deleted 2..4): only 5..9 remain
        (0, 0, None, 0),  # an empty partition
    ],
)
def test_partition_lag(start, end, committed, lag):
    assert partition_lag(start, end, committed) == lag


def _group(service: str, *partitions: tuple[int, int, int | None]) -> GroupOffsets:
    return GroupOffsets(
        group=GroupInput(service, f"ns.approval-archive-{service}", f"ns.{service}-input"),
        topic_exists=bool(partitions),
        partitions=tuple(
            PartitionOffsets(i, start, end, committed) for i, (start, end, committed) in enumerate(partitions)
        ),
    )


def test_backlog_sums_the_partitions_of_each_stage_and_the_stages():
    offsets = [
        _group("capture", (0, 10, 10), (0, 7, 3), (0, 5, None)),
        _group("validation", (0, 4, 4), (0, 4, 4), (0, 4, 4)),
        _group("classification", (0, 0, None), (0, 0, None), (0, 0, None)),
        _group("storage"),
    ]
    part = backlog_part(offsets, NOW)
    assert part["ok"] is True and part["checked_at"] == "2026-11-25T10:30:42Z"
    stages = {s["service"]: s for s in part["stages"]}
    assert [s["service"] for s in part["stages"]] == ["capture", "validation", "classification", "storage"]
    assert stages["capture"]["lag"] == 0 + 4 + 5
    assert stages["capture"]["end_offset"] == 22
    assert [p["lag"] for p in stages["capture"]["partitions"]] == [0, 4, 5]
    assert stages["validation"]["lag"] == 0 and stages["validation"]["started"] is True
    assert stages["classification"]["started"] is False
    assert stages["storage"]["topic_exists"] is False and stages["storage"]["lag"] == 0
    assert part["total_lag"] == 9


def test_backlog_when_kafka_does_not_answer_names_the_groups_and_says_what_happened():
    groups = group_inputs(ArchiveSettings(namespace="ns"))
    part = backlog_unavailable(groups, "Kafka at 127.0.0.1:19092 did not answer in time", NOW)
    assert part["ok"] is False
    assert "did not answer in time" in part["error"] and "other numbers are unaffected" in part["error"]
    assert [s["service"] for s in part["stages"]] == ["capture", "validation", "classification", "storage"]
    assert all(s["lag"] is None for s in part["stages"])


# --- rejects, fixity, queues ----------------------------------------------------------------------------


def test_rejects_are_sorted_by_open_then_recent_and_an_unknown_department_is_named_so():
    raw = {
        "by_code": [
            {"code": "AUTH-DIGEST-SHA256", "open": 2, "last_24_hours": 5},
            {"code": "INTEG-MATERIALS", "open": 7, "last_24_hours": 7},
            {"code": "SEC-VIRUS", "open": 2, "last_24_hours": 9},
        ],
        "by_department": [
            {"department_code": None, "department_name": None, "open": 1, "last_24_hours": 1},
            {"department_code": "330100SJ", "department_name": "杭州市市场监督管理局", "open": 3, "last_24_hours": 4},
        ],
    }
    part = rejects_part(raw)
    assert [d["code"] for d in part["by_defect"]] == ["INTEG-MATERIALS", "SEC-VIRUS", "AUTH-DIGEST-SHA256"]
    assert part["by_department"][0]["department_name"] == "杭州市市场监督管理局"
    assert part["by_department"][1] == {
        "department_code": "",
        "department_name": "未知 unknown",
        "open": 1,
        "last_24_hours": 1,
    }


@pytest.mark.parametrize(
    ("packages", "checked", "passed", "failed", "status", "never"),
    [(10, 10, 10, 0, "ok", 0), (10, 4, 3, 1, "failed", 6), (10, 0, 0, 0, "unchecked", 10), (0, 0, 0, 0, "ok", 0)],
)
def test_fixity_status(packages, checked, passed, failed, status, never):
    last = NOW - timedelta(hours=3) if checked else None
    raw = {
        "packages": packages,
        "checked": checked,
        "passed": passed,
        "failed": failed,
        "last_checked_at": last,
        "failed_packages": [
            {"case_key": "A/1/r1", "archival_code": "Z109-1", "case_title": "t", "checked_at": last, "reason": "x"}
        ]
        if failed
        else [],
    }
    part = fixity_part(raw)
    assert (part["status"], part["never_checked"], part["failed"]) == (status, never, failed)
    assert part["last_checked_at"] == ("2026-11-25T07:30:42Z" if checked else None)
    assert len(part["failed_packages"]) == failed


def _restore_raw(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "last_run_at": NOW - timedelta(hours=5),
        "last_run_tested": 5,
        "last_run_passed": 4,
        "last_run_failed": 1,
        "window_tested": 35,
        "window_passed": 33,
        "window_failed": 2,
        "newest_failure": {
            "case_key": "A/9/r1",
            "archival_code": "Z109-9",
            "tested_at": NOW - timedelta(hours=5),
            "reason": "the restored package is not a valid bag: bad payload",
        },
        "packages": 40,
        "without_replica": 0,
        "oldest_without_replica": None,
    }
    return {**raw, **changes}


def test_the_restore_test_shows_the_last_run_the_window_the_newest_failure_and_the_command():
    part = restore_test_part(_restore_raw(), NOW)
    assert part["status"] == "failed"
    assert part["last_run"] == {"at": "2026-11-25T05:30:42Z", "tested": 5, "passed": 4, "failed": 1}
    assert part["window"] == {"days": 7, "tested": 35, "passed": 33, "failed": 2}
    assert part["newest_failure"] == {
        "case_key": "A/9/r1",
        "archival_code": "Z109-9",
        "tested_at": "2026-11-25T05:30:42Z",
        "reason": "the restored package is not a valid bag: bad payload",
    }
    assert part["command"].startswith("archivectl restore-test")
    assert part["replica"] == {
        "configured": True,
        "packages": 40,
        "with_replica": 40,
        "without_replica": 0,
        "oldest_without_replica_archived_at": None,
        "lag_seconds": 0,
    }


@pytest.mark.parametrize(
    ("changes", "configured", "status"),
    [
        ({}, True, "failed"),
        ({"last_run_failed": 0, "last_run_passed": 5}, True, "ok"),
        # a failure earlier in the week but a clean last run: ok, the week's failures are still counted
        ({"last_run_failed": 0, "window_failed": 3}, True, "ok"),
        # a caller scoped to departments none of whose packages the recent run picked: still running
        (
            {
                "last_run_tested": 0,
                "last_run_passed": 0,
                "last_run_failed": 0,
                "window_tested": 0,
                "window_passed": 0,
                "window_failed": 0,
            },
            True,
            "ok",
        ),
        # no run for more than a week: the schedule stopped (or the worker is gone)
        (
            {
                "last_run_at": NOW - timedelta(days=9),
                "last_run_failed": 0,
                "window_tested": 0,
                "window_passed": 0,
                "window_failed": 0,
            },
            True,
            "stale",
        ),
        (
            {
                "last_run_at": None,
                "last_run_tested": 0,
                "last_run_passed": 0,
                "last_run_failed": 0,
                "window_tested": 0,
                "window_passed": 0,
                "window_failed": 0,
                "newest_failure": None,
            },
            True,
            "never_run",
        ),
        ({"last_run_at": None, "newest_failure": None}, False, "no_replica"),
    ],
)
def test_restore_test_status(changes, configured, status):
    part = restore_test_part(_restore_raw(**changes), NOW, replica_configured=configured)
    assert part["status"] == status
    assert part["replica"]["configured"] is configured
    if changes.get("last_run_at", ...) is None:
        assert part["last_run"]["at"] is None and part["newest_failure"] is None


def test_packages_without_a_replica_copy_are_counted_with_the_age_of_the_oldest():
    raw = _restore_raw(without_replica=3, oldest_without_replica=NOW - timedelta(hours=2, seconds=5))
    replica = restore_test_part(raw, NOW)["replica"]
    assert (replica["with_replica"], replica["without_replica"]) == (37, 3)
    assert replica["oldest_without_replica_archived_at"] == "2026-11-25T08:30:37Z"
    assert replica["lag_seconds"] == 2 * 3600 + 5


def test_queues_show_each_open_entry_with_its_failures_codes_and_reasons():
    opened = NOW - timedelta(minutes=10)
    raw = {
        "quarantine_open": 31,
        "quarantine_oldest": [
            {
                "case_key": "SCJG/SCJG-2026-000007/r1",
                "source_platform": "SCJG",
                "case_number": "SCJG-2026-000007",
                "revision": 1,
                "case_title": "某公司食品经营许可",
                "department_code": "330100SJ",
                "department_name": "杭州市市场监督管理局",
                "item_code": "ITEM-1",
                "opened_at": opened,
                "failures": [
                    {
                        "code": "AUTH-DIGEST-SHA256",
                        "property": "authenticity",
                        "outcome": "fail",
                        "reason_zh": "文件摘要不符",
                        "reason_en": "digest mismatch",
                        "file_name": "licence.pdf",
                        "details": {"declared": "abc"},
                    },
                    "not a failure object",
                ],
            }
        ],
        "reviews_waiting": 2,
        "reviews_oldest": [
            {
                "case_key": "JTYS/JTYS-2026-000001/r1",
                "source_platform": "JTYS",
                "item_code": "X",
                "item_name": "道路运输",
                "case_title": "t",
                "reason": "no rule matches",
                "schedule_version": "2026.1",
                "queued_at": opened,
            }
        ],
    }
    part = queues_part(raw, NOW)
    assert part["quarantine"]["open"] == 31 and part["reviews"]["waiting"] == 2
    [entry] = part["quarantine"]["oldest"]
    assert entry["age_seconds"] == 600 and entry["opened_at"] == "2026-11-25T10:20:42Z"
    assert entry["failures"] == [
        {
            "code": "AUTH-DIGEST-SHA256",
            "reason_zh": "文件摘要不符",
            "reason_en": "digest mismatch",
            "file_name": "licence.pdf",
        }
    ]
    assert part["reviews"]["oldest"][0]["reason"] == "no rule matches"


# --- assembly and cache ---------------------------------------------------------------------------------


POISON_PILL_ROW = {
    "service": "validation",
    "topic": "archive.captured.v1",
    "partition": 1,
    "offset": 17,
    "origin_key": "health/W-9/r1",
    "deaths": 3,
    "set_aside_at": datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
}


def test_poison_pills_are_listed_for_an_unscoped_caller_and_counted_only_for_a_scoped_one():
    raw = {"total": 1, "last_24_hours": 1, "latest": [POISON_PILL_ROW]}
    part = poison_pills_part(raw, scoped=False)
    assert part["status"] == "set_aside" and part["total"] == 1
    assert part["latest"][0] == {**POISON_PILL_ROW, "set_aside_at": "2026-12-01T00:00:00Z"}
    assert poison_pills_part(raw, scoped=True)["latest"] == []
    assert poison_pills_part({"total": 0, "last_24_hours": 0, "latest": []}, scoped=False)["status"] == "ok"


class FakeQueries:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.failing: set[str] = set()
        self.archived = 5
        self.due: list[dict[str, Any]] = []

    def _call(self, name: str, scope: Any) -> None:
        self.calls.append((name, scope))
        if name in self.failing:
            raise ConnectionRefusedError("connection refused")

    async def throughput(self, now, departments):  # type: ignore[no-untyped-def]
        self._call("throughput", departments)
        return {
            "last_minute": 1,
            "last_5_minutes": 2,
            "last_hour": 3,
            "last_24_hours": 4,
            "total": self.archived,
            "per_minute": [{"minute": now, "archived": 1}],
        }

    async def rejects(self, now, departments):  # type: ignore[no-untyped-def]
        self._call("rejects", departments)
        return {"by_code": [{"code": "SEC-VIRUS", "open": 1, "last_24_hours": 1}], "by_department": []}

    async def fixity(self, departments, failed_limit):  # type: ignore[no-untyped-def]
        self._call("fixity", departments)
        return {"packages": 5, "checked": 0, "passed": 0, "failed": 0, "last_checked_at": None, "failed_packages": []}

    async def restore_test(self, now, days, departments):  # type: ignore[no-untyped-def]
        self._call("restore_test", departments)
        return _restore_raw(last_run_failed=0, last_run_passed=5, newest_failure=None, window_failed=0)

    async def revalidation(self, departments, failed_limit):  # type: ignore[no-untyped-def]
        self._call("revalidation", departments)
        return {
            "packages": 5,
            "checked": 2,
            "passed": 1,
            "failed": 1,
            "last_checked_at": NOW,
            "failed_packages": [
                {"case_key": "p/1/r1", "archival_code": "Z", "case_title": "t", "checked_at": NOW, "reason": "x"}
            ],
        }

    async def queues(self, departments, oldest):  # type: ignore[no-untyped-def]
        self._call("queues", departments)
        return {"quarantine_open": 0, "quarantine_oldest": [], "reviews_waiting": 0, "reviews_oldest": []}

    async def overdue(self, now, days, departments):  # type: ignore[no-untyped-def]
        self._call("overdue", departments)
        return []

    async def disposition(self, now, departments):  # type: ignore[no-untyped-def]
        self._call("disposition", departments)
        return list(self.due)

    async def poison_pills(self, now, latest):  # type: ignore[no-untyped-def]
        self._call("poison_pills", None)
        return {"total": 1, "last_24_hours": 1, "latest": [POISON_PILL_ROW]}


class FakeLag:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.calls = 0
        self.closed = False

    async def offsets(self, groups):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.down:
            raise KafkaUnavailable("Kafka at 127.0.0.1:19092 did not answer in time")
        return [GroupOffsets(g, True, (PartitionOffsets(0, 0, 3, 1),)) for g in groups]

    async def close(self) -> None:
        self.closed = True


def _dashboard(queries: FakeQueries, lag: FakeLag) -> Dashboard:
    return Dashboard(queries=queries, lag=lag, groups=group_inputs(ArchiveSettings(namespace="ns")), now=lambda: NOW)


async def test_a_snapshot_has_every_part():
    snapshot = await _dashboard(FakeQueries(), FakeLag()).snapshot()
    assert snapshot["generated_at"] == "2026-11-25T10:30:42Z"
    for part in (
        "throughput",
        "backlog",
        "rejects",
        "fixity",
        "restore_test",
        "revalidation",
        "queues",
        "poison_pills",
        "disposition",
    ):
        assert snapshot[part]["ok"] is True, part
        assert snapshot[part]["as_of"] == "2026-11-25T10:30:42Z", part
    assert snapshot["backlog"]["total_lag"] == 4 * 2
    assert snapshot["fixity"]["status"] == "unchecked"
    assert snapshot["restore_test"]["status"] == "ok" and snapshot["restore_test"]["last_run"]["tested"] == 5
    revalidation = snapshot["revalidation"]
    assert (revalidation["status"], revalidation["never_checked"], revalidation["failed"]) == ("failed", 3, 1)
    assert revalidation["failed_packages"][0]["case_key"] == "p/1/r1"
    assert snapshot["poison_pills"]["latest"][0]["offset"] == 17


async def test_a_deployment_without_a_replica_site_says_so_instead_of_a_test_that_never_ran():
    dashboard = Dashboard(
        queries=FakeQueries(),
        lag=FakeLag(),
        groups=group_inputs(ArchiveSettings(namespace="ns")),
        now=lambda: NOW,
        replica_configured=False,
    )
    part = (await dashboard.snapshot())["restore_test"]
    assert part["status"] == "no_replica" and part["replica"]["configured"] is False


async def test_a_part_whose_source_fails_says_so_and_the_others_are_served():
    queries = FakeQueries()
    queries.failing = {"rejects"}
    snapshot = await _dashboard(queries, FakeLag(down=True)).snapshot()
    assert snapshot["rejects"]["ok"] is False
    assert "rejects could not be read from the index (PostgreSQL)" in snapshot["rejects"]["error"]
    assert "connection refused" in snapshot["rejects"]["error"]
    assert snapshot["backlog"]["ok"] is False and "did not answer in time" in snapshot["backlog"]["error"]
    assert snapshot["throughput"]["ok"] is True and snapshot["queues"]["ok"] is True


async def test_pollers_share_one_query_per_part_while_it_is_fresh_and_a_failure_is_not_kept():
    queries, lag = FakeQueries(), FakeLag()
    dashboard = _dashboard(queries, lag)
    await asyncio.gather(*(dashboard.snapshot() for _ in range(5)))
    assert sorted(name for name, _ in queries.calls) == [
        "disposition",
        "fixity",
        "overdue",
        "poison_pills",
        "queues",
        "rejects",
        "restore_test",
        "revalidation",
        "throughput",
    ]
    assert lag.calls == 1

    queries.failing = {"throughput"}
    dashboard.cache._values.clear()  # every part expired
    assert (await dashboard.snapshot())["throughput"]["ok"] is False
    queries.failing = set()
    assert (await dashboard.snapshot())["throughput"]["ok"] is True  # asked again: the failure was not cached


async def test_a_caller_scoped_to_departments_gets_counts_of_those_and_shares_the_backlog():
    queries, lag = FakeQueries(), FakeLag()
    dashboard = _dashboard(queries, lag)
    await dashboard.snapshot()
    await dashboard.snapshot(["330100SJ", "110000SJ"])
    scopes = {scope for name, scope in queries.calls if name == "queues"}
    assert scopes == {None, ("110000SJ", "330100SJ")}
    assert lag.calls == 1  # topics are the same for everyone
    await dashboard.close()
    assert lag.closed


async def test_the_cache_expires():
    clock = [100.0]
    cache = TtlCache(clock=lambda: clock[0])
    produced = []

    async def produce():  # type: ignore[no-untyped-def]
        produced.append(clock[0])
        return len(produced)

    assert await cache.get("k", 2.0, produce) == 1
    clock[0] += 1.9
    assert await cache.get("k", 2.0, produce) == 1
    clock[0] += 0.2
    assert await cache.get("k", 2.0, produce) == 2


async def test_the_number_of_queue_rows_asked_for_reaches_the_query_and_is_cached_apart():
    class CountingQueries(FakeQueries):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[int] = []

        async def queues(self, departments, oldest):  # type: ignore[no-untyped-def]
            self.rows.append(oldest)
            return await super().queues(departments, oldest)

    queries = CountingQueries()
    dashboard = _dashboard(queries, FakeLag())
    await dashboard.snapshot()
    await dashboard.snapshot(queue_rows=100)
    await dashboard.snapshot(queue_rows=100)
    assert queries.rows == [10, 100]


def test_overdue_rectifications_are_counted_per_platform_and_department_longest_waiting_first():
    from services.query.dashboard_data import overdue_part

    rows = [
        {"source_platform": "transport", "department_code": "JT01", "department_name": "交通局", "days_open": 16},
        {"source_platform": "transport", "department_code": "JT01", "department_name": "交通局", "days_open": 40},
        {"source_platform": "market-regulation", "department_code": "SC01", "department_name": None, "days_open": 20},
    ]
    part = overdue_part(rows, 15)
    assert (part["ok"], part["days"], part["cases"]) == (True, 15, 3)
    assert [(g["source_platform"], g["cases"], g["oldest_days_open"]) for g in part["by_platform_department"]] == [
        ("transport", 2, 40),
        ("market-regulation", 1, 20),
    ]
    assert overdue_part([], 15)["by_platform_department"] == []


def _due(n: int, *, holds: bool = False, pending: str | None = None) -> dict[str, Any]:
    return {
        "case_key": f"p/C-{n}/r1",
        "archival_code": f"Z109-XK·2016-D10-SCJG-{n:04d}",
        "case_title": "许可",
        "retention": "D10",
        "expires_at": datetime(2026, 3, n, tzinfo=UTC),
        "holds": [{"hold_id": 1, "reason": "诉讼", "reference": "ref"}] if holds else [],
        "pending": {"decision_id": n, "status": pending} if pending else None,
    }


def test_the_disposition_part_counts_due_held_and_pending_and_lists_the_oldest():
    part = disposition_part([_due(1, holds=True), _due(2, pending="proposed"), _due(3, pending="approved")], 2)
    assert (part["due"], part["held"], part["proposed"], part["approved"]) == (3, 1, 1, 1)
    assert [r["case_key"] for r in part["oldest"]] == ["p/C-1/r1", "p/C-2/r1"]
    assert part["oldest"][0]["held"] is True and part["oldest"][1]["pending"] == "proposed"
    assert part["oldest"][0]["expires_at"] == "2026-03-01T00:00:00Z"


async def test_the_dashboard_shows_the_records_due_for_disposition():
    queries = FakeQueries()
    queries.due = [_due(1), _due(2, holds=True)]
    snapshot = await _dashboard(queries, FakeLag()).snapshot()
    assert snapshot["disposition"]["ok"] is True and snapshot["disposition"]["due"] == 2
    assert snapshot["disposition"]["held"] == 1
