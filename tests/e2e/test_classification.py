"""Classification end to end: several classification workers (separate processes) numbering the same
series at once; schedule versions and reclassification; the manual review queue through the whole
pipeline, released by `archivectl review decide`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import yaml

from archivectl.feed import publish_events
from archivectl.kafka_admin import ensure_topics, wait_for_group
from archivectl.outcomes import await_outcomes
from archivectl.topic_reader import read_topics
from contracts.envelope import derived_event_id
from contracts.v1 import ValidatedCase, ValidatedEvent, topics
from samples.generator import approval_completed_event, generate_cases
from services.classification.config import bundled_schedule_file
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
WORKERS = 3
CASES = 30


def archivectl(settings: ArchiveSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AA_NAMESPACE": settings.namespace}
    return subprocess.run(
        [sys.executable, "-m", "archivectl", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def validated(sample) -> dict:  # type: ignore[no-untyped-def]
    """The archive.validated.v1 event validation would emit for a sample case (files are not needed here)."""
    rec = sample.record
    event = ValidatedEvent(
        id=derived_event_id(topics.VALIDATED, rec.case_key),
        source="urn:approval-archive:validation",
        type=topics.VALIDATED,
        time=datetime.now(UTC),
        subject=rec.case_key,
        correlationid=f"corr-{rec.case_key}",
        data=ValidatedCase(case=rec.metadata(), files=[], checks=[], validated_at=datetime.now(UTC)),
    )
    return event.model_dump(mode="json")


def _start_worker(settings: ArchiveSettings, n: int, log_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AA_NAMESPACE": settings.namespace,
        "AA_METRICS_PORT": str(_free_port()),
        "AA_RETRY_INITIAL_SECONDS": "0.2",
        "AA_RETRY_MAX_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    with (log_dir / f"{settings.namespace}-classification-{n}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "services.classification"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
async def workers(prepared):  # type: ignore[no-untyped-def]
    """Three classification workers in one consumer group, in a namespace of their own."""
    settings = ArchiveSettings(namespace=f"{prepared.namespace}-cls", retry_initial_seconds=0.2, retry_max_seconds=2)
    await ensure_topics(settings)
    await upgrade(settings)
    log_dir = REPO / ".stack" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = [_start_worker(settings, n, log_dir) for n in range(WORKERS)]
    try:
        await wait_for_group(settings, "classification", WORKERS)  # the partitions spread over all workers
        yield settings
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _classified(settings: ArchiveSettings, at_least: int, timeout: float = 240):  # type: ignore[no-untyped-def]
    seen, complete = await read_topics(
        settings, [topics.CLASSIFIED], done=lambda s: len(s) >= at_least, timeout=timeout
    )
    assert complete, f"only {len(seen)} of {at_least} classified events arrived; see .stack/logs/*-cls-*.log"
    return seen


async def _codes(settings: ArchiveSettings) -> list[tuple]:
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        rows = await conn.fetch(
            """SELECT case_key, fonds_code, category_code, year, retention, organisation_code, item_number,
                      archival_code FROM archival_codes ORDER BY case_key"""
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


async def test_concurrent_workers_number_every_series_1_to_n_and_redelivery_changes_nothing(workers):
    samples = generate_cases(CASES, wrong_digest_every=None)
    events = [validated(s) for s in samples]
    await publish_events(workers, events, topic=topics.VALIDATED)
    first = await _classified(workers, CASES)
    assert {s.key for s in first} == {e["subject"] for e in events}

    rows = await _codes(workers)
    assert len(rows) == CASES
    series: dict[tuple, list[int]] = defaultdict(list)
    for _, *key, number, _ in rows:
        series[tuple(key)].append(number)
    assert max(len(v) for v in series.values()) >= 5, "several cases share a series, so the workers contend"
    for key, numbers in series.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"series {key}: {sorted(numbers)}"
    assert len({r[-1] for r in rows}) == CASES

    # every case redelivered: the same events (same id, same code), and the database unchanged
    await publish_events(workers, events, topic=topics.VALIDATED)
    both = await _classified(workers, 2 * CASES)
    per_case: dict[str, list[dict]] = defaultdict(list)
    for s in both:
        per_case[s.key].append(s.event)
    assert Counter(len(v) for v in per_case.values()) == Counter({2: CASES})
    for key, (a, b) in per_case.items():
        assert a == b, f"{key} was re-emitted differently"
    assert await _codes(workers) == rows


async def test_a_new_version_applies_to_new_cases_and_reclassification_keeps_the_code(workers, tmp_path):
    before = {s.key: s.event for s in await _classified(workers, CASES)}
    doc = yaml.safe_load(bundled_schedule_file().read_text(encoding="utf-8"))
    old_version = doc["version"]
    doc["version"] = f"{old_version}-e2e"
    rule = next(r for r in doc["rules"] if r["item"] == "XK-SCJG-001")
    old_retention = rule["retention"]
    rule["retention"] = "D10" if old_retention != "D10" else "D30"
    new_file = tmp_path / f"retention-schedule-{doc['version']}.yaml"
    new_file.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loaded = archivectl(workers, "schedule", "load", str(new_file), "--by", "测试员")
    assert loaded.returncode == 0, loaded.stderr

    fresh = [
        s for s in generate_cases(CASES + 40, wrong_digest_every=None)[CASES:] if s.record.item_code == rule["item"]
    ]
    fresh = [s for s in fresh if s.record.result.value == rule["when"]["result"]][:2]
    assert fresh
    await publish_events(workers, [validated(s) for s in fresh], topic=topics.VALIDATED)
    seen = await _classified(workers, 2 * CASES + len(fresh))
    new = {s.key: s.event for s in seen if s.key in {f.case_key for f in fresh}}
    for event in new.values():
        c = event["data"]["classification"]
        assert (c["schedule_version"], c["retention"], c["rule_id"]) == (doc["version"], rule["retention"], rule["id"])

    # an old case of that item: reclassified under the new version, audited, its code untouched
    old_key = next(k for k, e in before.items() if e["data"]["classification"]["rule_id"] == rule["id"])
    old_code = before[old_key]["data"]["classification"]["archival_code"]
    done = archivectl(workers, "reclassify", "--version", doc["version"], old_key, "--by", "测试员", "--note", "e2e")
    assert done.returncode == 0, done.stderr
    assert f"retention {old_retention} → {rule['retention']}" in done.stdout
    conn = await asyncpg.connect(workers.pg_dsn())
    try:
        audit = await conn.fetchrow("SELECT * FROM reclassifications WHERE case_key=$1", old_key)
        row = await conn.fetchrow("SELECT * FROM classifications WHERE case_key=$1", old_key)
        code = await conn.fetchval("SELECT archival_code FROM archival_codes WHERE case_key=$1", old_key)
    finally:
        await conn.close()
    assert audit["outcome"] == "changed" and audit["to_version"] == doc["version"] and audit["requested_by"] == "测试员"
    assert audit["archival_code"] == code == row["archival_code"] == old_code
    assert (row["current_retention"], row["current_schedule_version"]) == (rule["retention"], doc["version"])
    assert row["schedule_version"] == old_version, "the original decision stays on record"

    # put the old version back in force for whatever runs next
    assert archivectl(workers, "schedule", "activate", old_version).returncode == 0


@pytest.fixture(scope="module")
async def review_namespace(prepared):  # type: ignore[no-untyped-def]
    settings = ArchiveSettings(namespace=f"{prepared.namespace}-rev", retry_initial_seconds=0.2, retry_max_seconds=2)
    await ensure_topics(settings)
    await upgrade(settings)
    return settings


@pytest.fixture(scope="module")
def pipeline(review_namespace):  # type: ignore[no-untyped-def]
    """The four services in a namespace (and on metrics ports) of this module's own."""
    from archivectl import local_services

    env = {"AA_RETRY_INITIAL_SECONDS": "0.2", "AA_RETRY_MAX_SECONDS": "2", "AA_LOG_LEVEL": "INFO"}
    local_services.start(review_namespace.namespace, metrics_offset=local_services.free_metrics_offset(), extra_env=env)
    try:
        yield review_namespace
    finally:
        local_services.stop(review_namespace.namespace)


async def test_an_unmatched_case_waits_for_review_and_is_archived_with_the_decided_values(pipeline):
    sample = next(s for s in generate_cases(40, wrong_digest_every=None)[33:] if s.platform == "market-regulation")
    record = sample.record.model_copy(
        update={"item_code": "XK-WSJK-001", "item_name": "公共场所卫生许可", "case_number": "WSJK-2026-E2E001"}
    )
    event = approval_completed_event(dataclasses.replace(sample, record=record))
    key = event["subject"]
    from archivectl.platforms import sample_platform_secrets, signed  # capture accepts registered, signed senders

    event = signed(event, (await sample_platform_secrets(pipeline))[sample.platform])
    await publish_events(pipeline, [event])

    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        deadline = time.monotonic() + 180
        review = None
        while review is None and time.monotonic() < deadline:
            review = await conn.fetchrow("SELECT * FROM classification_reviews WHERE case_key=$1", key)
            await asyncio.sleep(0.5)
        assert review is not None, "the case never reached the review queue; see .stack/logs/"
        assert review["status"] == "waiting" and "XK-WSJK-001" in review["reason"]
    finally:
        await conn.close()
    listed = archivectl(pipeline, "review", "list")
    assert key in listed.stdout
    waiting = await await_outcomes(pipeline, {key}, timeout=3)
    assert not waiting.archived and not waiting.rejected and not waiting.dead_lettered

    decided = archivectl(
        pipeline,
        "review",
        "decide",
        key,
        "--values",
        "retention=D10",
        "category=XK",
        "class=BYXK",
        "security=内部",
        "sharing=03",
        "--by",
        "档案员李娜",
        "--note",
        "卫生许可事项尚未列入保管期限表",
    )
    assert decided.returncode == 0, decided.stderr
    outcomes = await await_outcomes(pipeline, {key}, timeout=120)
    assert key in outcomes.archived, (
        f"not archived after the decision: rejected={list(outcomes.rejected)}, "
        f"dead letters={[d['data']['reason'][:300] for d in outcomes.dead_lettered.values()]}"
    )
    c = outcomes.archived[key]["data"]["classification"]
    assert (c["retention"], c["category_code"], c["class_code"], c["security_level"], c["sharing_level"]) == (
        "D10",
        "XK",
        "BYXK",
        "内部",
        "03",
    )
    assert c["rule_id"] == "manual" and c["decided_by"] == "档案员李娜"
    assert "-XK·2026-D10-" in c["archival_code"]
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        row = await conn.fetchrow("SELECT retention, class_code, rule_id FROM records WHERE case_key=$1", key)
        review = await conn.fetchrow(
            "SELECT status, decided_by, decision FROM classification_reviews WHERE case_key=$1", key
        )
    finally:
        await conn.close()
    assert tuple(row) == ("D10", "BYXK", "manual")
    assert review["status"] == "decided" and review["decided_by"] == "档案员李娜"
    # deciding again only re-publishes the same event
    again = archivectl(pipeline, "review", "decide", key, "--rule", "SCJG-SL-ZY")
    assert again.returncode == 0 and "already decided" in again.stdout
