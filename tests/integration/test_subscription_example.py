"""examples/supervision_consumer.py, run as a supervision system would run it, against the real Kafka:
it prints exactly the matching archived records, once each, survives garbage, commits what it handled
and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.envelope import derived_event_id
from contracts.v1 import (
    ArchivedEvent,
    ArchivedRecord,
    Classification,
    PackageRef,
    RetentionPeriod,
    SharingLevel,
    topics,
)
from services.common.codec import encode_event
from services.common.settings import ArchiveSettings
from tests.factories import record

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "supervision_consumer.py"
DEADLINE = 120  # seconds: a hung consumer fails the test instead of hanging the run


def archived_event(number: int, department: str, item: str, sharing: SharingLevel) -> ArchivedEvent:
    case = record(
        f"SUP-{number:04d}",
        department_code=department,
        item_code=item,
        case_title=f"监管订阅测试{number}号有限公司设立登记",
    ).metadata()
    now = datetime.now(UTC)
    return ArchivedEvent(
        id=derived_event_id(topics.ARCHIVED, case.case_key),
        source="urn:approval-archive:storage",
        type=topics.ARCHIVED,
        time=now,
        subject=case.case_key,
        correlationid=f"corr-{case.case_number}",
        data=ArchivedRecord(
            case=case,
            classification=Classification(
                fonds_code="Z109",
                category_code="XK",
                class_code="SCDJ",
                year=2026,
                retention=RetentionPeriod.PERMANENT,
                organisation_code="SCJG",
                item_number=number,
                archival_code=f"Z109-XK·2026-Y-SCJG-{number:04d}",
                security_level="公开",
                sharing_level=sharing,
                rule_id="SCJG-SL-ZY",
                schedule_version="2026.1",
            ),
            package=PackageRef(
                bucket="archive-packages",
                prefix=f"{case.case_key}/",
                manifest_sha256="0" * 64,
                file_count=1,
                total_bytes=20,
                key=f"{case.case_key}/{case.case_key.replace('/', '_')}.tar",
            ),
            archived_at=now,
        ),
    )


@pytest.fixture(scope="module")
async def published(prepared: ArchiveSettings) -> dict[str, object]:
    """Archived events of two departments × two items (one duplicated), plus garbage, on an archived-record
    topic of this module's own (in the session's namespace, so it is deleted with it): the e2e tests'
    archived events on the namespace's topic would otherwise change the consumer's counts."""
    run = uuid.uuid4().hex[:6].upper()
    topic = prepared.topic(f"example-{run.lower()}.{topics.ARCHIVED}")
    admin = AIOKafkaAdminClient(bootstrap_servers=prepared.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    ours, other = f"D{run}A", f"D{run}B"
    item, other_item = f"XK-{run}-1", f"XK-{run}-2"
    events = [
        archived_event(1, ours, item, SharingLevel.UNCONDITIONAL),  # match
        archived_event(2, ours, item, SharingLevel.CONDITIONAL),  # match (the consumer is granted 02)
        archived_event(3, ours, item, SharingLevel.NOT_SHARED),  # 03: never shown to a supervision system
        archived_event(4, ours, other_item, SharingLevel.UNCONDITIONAL),
        archived_event(5, other, item, SharingLevel.UNCONDITIONAL),
        archived_event(6, other, other_item, SharingLevel.UNCONDITIONAL),
    ]
    rejected_shape = json.dumps({"specversion": "1.0", "id": "x", "type": topics.REJECTED, "data": {}}).encode()
    messages = [(e.subject, encode_event(e)) for e in events]
    messages.insert(2, ("garbage", b"\x00not json at all {"))
    messages.insert(4, ("wrong-type", rejected_shape))
    messages.append((events[0].subject, encode_event(events[0])))  # a redelivery: same event, same id
    producer = AIOKafkaProducer(bootstrap_servers=prepared.kafka_bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=str(key).encode())
    finally:
        await producer.stop()
    return {
        "department": ours,
        "item": item,
        "expected": sorted(e.subject or "" for e in events[:2]),
        "topic": topic,
        "bootstrap": prepared.kafka_bootstrap,
    }


def command(published: dict[str, object], group: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(EXAMPLE),
        "--bootstrap",
        str(published["bootstrap"]),
        "--topic",
        str(published["topic"]),
        "--group",
        group,
        "--department",
        str(published["department"]),
        "--item",
        str(published["item"]),
        "--sharing-levels",
        "01,02",
        *extra,
    ]


async def run_to_end(args: list[str]) -> tuple[int, list[dict[str, object]], str]:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), DEADLINE)
    except TimeoutError:
        process.kill()
        raise
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return process.returncode or 0, lines, err.decode()


async def test_prints_exactly_the_matching_records_once_and_reports_garbage(published, prepared):
    group = f"{prepared.namespace}.supervision-example-{uuid.uuid4().hex[:6]}"
    code, lines, err = await run_to_end(command(published, group, "--from-beginning", "--idle-exit", "4"))

    assert code == 0, err
    assert sorted(line["case_key"] for line in lines) == published["expected"]  # once each, nothing else
    first = next(line for line in lines if line["case_key"] == published["expected"][0])
    assert first["department_code"] == published["department"] and first["item_code"] == published["item"]
    assert first["archival_code"].startswith("Z109-XK·2026-Y-SCJG-")
    assert first["applicant_name"] == "杭州云栖科技有限公司"
    assert first["package"].startswith("s3://archive-packages/") and first["package"].endswith(".tar")
    assert "not JSON" in err
    assert f"event type '{topics.REJECTED}', expected '{topics.ARCHIVED}'" in err
    assert "duplicates 1" in err

    # The offsets were committed after handling: the same group, started again, has nothing new.
    code, lines, err = await run_to_end(command(published, group, "--idle-exit", "3"))
    assert code == 0, err
    assert lines == []


async def test_stops_cleanly_on_sigterm(published, prepared):
    group = f"{prepared.namespace}.supervision-example-{uuid.uuid4().hex[:6]}"
    process = await asyncio.create_subprocess_exec(
        *command(published, group, "--from-beginning"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        printed = [json.loads(await asyncio.wait_for(process.stdout.readline(), DEADLINE)) for _ in range(2)]
        assert sorted(p["case_key"] for p in printed) == published["expected"]
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), DEADLINE)
        err = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
    assert code == 0, err
    assert "printed 2 records" in err
    assert "Traceback" not in err
