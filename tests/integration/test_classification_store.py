"""Classification's PostgreSQL store and commands against the real database: schedule versions
(loading, refusal of a broken file, immutability) and gapless allocation from several OS processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
import yaml

from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.config import bundled_schedule_file
from services.classification.domain import format_archival_code
from services.common.series import Series
from services.common.settings import ArchiveSettings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def archivectl(settings: ArchiveSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AA_NAMESPACE": settings.namespace}
    return subprocess.run(
        [sys.executable, "-m", "archivectl", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def write_version(tmp_path: Path, version: str, edit=None) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(bundled_schedule_file().read_text(encoding="utf-8"))
    doc["version"] = version
    if edit:
        edit(doc)
    path = tmp_path / f"retention-schedule-{version}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def active_version(settings: ArchiveSettings) -> str | None:
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        return await conn.fetchval("SELECT version FROM schedule_activations ORDER BY seq DESC LIMIT 1")
    finally:
        await conn.close()


async def test_schedule_versions_load_once_and_a_broken_file_changes_nothing(prepared, tmp_path):
    first = write_version(tmp_path, f"it-{uuid.uuid4().hex[:6]}")
    done = archivectl(prepared, "schedule", "load", str(first), "--by", "测试员")
    assert done.returncode == 0, done.stderr
    version = yaml.safe_load(first.read_text(encoding="utf-8"))["version"]
    assert await active_version(prepared) == version
    again = archivectl(prepared, "schedule", "load", str(first))
    assert again.returncode == 0 and "already loaded" in again.stdout

    def break_rule_3(doc):  # type: ignore[no-untyped-def]
        del doc["rules"][2]["retention"]
        doc["rules"][4]["category"] = "QQ"

    broken = write_version(tmp_path, f"it-broken-{uuid.uuid4().hex[:6]}", break_rule_3)
    refused = archivectl(prepared, "schedule", "load", str(broken))
    assert refused.returncode == 1
    rule3, rule5 = (yaml.safe_load(broken.read_text(encoding="utf-8"))["rules"][i]["id"] for i in (2, 4))
    assert f"rule 3 ({rule3}, line " in refused.stderr and "retention: missing field" in refused.stderr
    assert f"rule 5 ({rule5}, line " in refused.stderr and "unknown category 'QQ'" in refused.stderr
    assert "the version in force stays in force" in refused.stderr
    assert await active_version(prepared) == version, "the previous version stays in force"
    conn = await asyncpg.connect(prepared.pg_dsn())
    try:
        broken_version = yaml.safe_load(broken.read_text(encoding="utf-8"))["version"]
        assert await conn.fetchval("SELECT count(*) FROM retention_schedules WHERE version=$1", broken_version) == 0
        assert await conn.fetchval("SELECT count(*) FROM retention_rules WHERE version=$1", broken_version) == 0
    finally:
        await conn.close()

    # a version never changes: the same version number with other content is refused
    edited = write_version(tmp_path, version, lambda d: d["rules"][0].update(retention="D10"))
    conflict = archivectl(prepared, "schedule", "load", str(edited))
    assert conflict.returncode == 1 and "already loaded from a different file" in conflict.stderr
    listing = archivectl(prepared, "schedule", "list")
    assert f"* {version}" in listing.stdout


# --- gapless allocation from several processes ----------------------------------------------------------


def _allocate_in_process(settings_json: str, keys: list[str], org: str, seed: int) -> dict[str, str]:
    """One OS process: classify `keys` in its own random order; returns case key → archival code."""

    async def run() -> dict[str, str]:
        settings = ArchiveSettings.model_validate_json(settings_json)
        store = await PgClassificationStore.connect(settings, migrate=False, max_size=3)
        order = list(keys)
        random.Random(seed).shuffle(order)
        try:

            async def one(key: str) -> tuple[str, str]:
                retention = ("Y", "D30", "D10")[int(key.split("/")[1].rsplit("-", 1)[1]) % 3]
                series = Series("Z109", "XK", 2026, retention, org)
                decision = {
                    "rule_id": "r",
                    "schedule_version": "v",
                    "class_code": "SCDJ",
                    "security_level": "公开",
                    "sharing_level": "01",
                }
                event, _ = await store.record_classification(
                    case_key=key,
                    item_code="XK-SCJG-001",
                    series=series,
                    decision=decision,
                    format_code=format_archival_code,
                    make_event=lambda a, s: {"archival_code": a.archival_code, "pid": os.getpid()},
                )
                return key, event["archival_code"]

            results = await asyncio.gather(*(one(k) for k in order))  # 3 connections, contending
            return dict(results)
        finally:
            await store.close()

    return asyncio.run(run())


async def _snapshot(settings: ArchiveSettings, org: str) -> list[tuple]:
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        rows = await conn.fetch(
            """SELECT c.case_key, c.archival_code, c.retention, c.item_number, k.classified_event::text
               FROM archival_codes c JOIN classifications k USING (case_key)
               WHERE c.organisation_code=$1 ORDER BY c.case_key""",
            org,
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


async def test_processes_racing_over_the_same_cases_leave_no_gap_and_no_duplicate(prepared):
    org = f"P{uuid.uuid4().hex[:6].upper()}"
    keys = [f"market-regulation/RACE-{org}-{n}/r1" for n in range(60)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        runs = [pool.apply_async(_allocate_in_process, (prepared.model_dump_json(), keys, org, s)) for s in range(4)]
        results = await asyncio.to_thread(lambda: [r.get(timeout=120) for r in runs])
    assert all(r == results[0] for r in results), "every process got the same code for the same case"
    rows = await _snapshot(prepared, org)
    assert len(rows) == len(keys)
    by_series: dict[str, list[int]] = {}
    for _, code, retention, number, _ in rows:
        by_series.setdefault(retention, []).append(number)
        assert code.endswith(f"-{retention}-{org}-{number:04d}")
    for retention, numbers in by_series.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"series {retention}: {sorted(numbers)}"
    assert len({r[1] for r in rows}) == len(rows)

    # redelivering every case (again from racing processes) changes nothing
    with ctx.Pool(2) as pool:
        again = [pool.apply_async(_allocate_in_process, (prepared.model_dump_json(), keys, org, s)) for s in (7, 8)]
        second = await asyncio.to_thread(lambda: [r.get(timeout=120) for r in again])
    assert all(r == results[0] for r in second)
    assert await _snapshot(prepared, org) == rows
