"""Reliability end to end, on the real stack, each test in a namespace of its own with its own workers:

* a worker that must stop (its input's letter cannot be written) exits non-zero with the input
  UNACKNOWLEDGED, and after a restart the input is delivered again and settled;
* a message that kills its worker every time is set aside after K deaths, and the partition's next case
  is archived;
* `archivectl dlq replay` of a letter whose cause was fixed yields the archived record, once;
* a worker whose consumer stops delivering while messages wait exits 75 (the stall watchdog), and after
  a restart the waiting cases are archived; an idle worker with nothing waiting is left alone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from archivectl import local_services
from archivectl.__main__ import main as archivectl_main
from archivectl.kafka_admin import ensure_topics
from archivectl.platforms import SAMPLE_PLATFORMS, ensure_platforms, sample_platform_secrets, signed
from archivectl.topic_reader import Seen, read_topics
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_cases
from services.common.adapters.object_store import MinioObjectStore
from services.common.index.migrate import upgrade
from services.common.producer import producer_for
from services.common.settings import ArchiveSettings

pytestmark = pytest.mark.e2e

FAST = {"AA_RETRY_INITIAL_SECONDS": "0.2", "AA_RETRY_MAX_SECONDS": "1", "AA_WORKER_STOP_DELAY_SECONDS": "0"}


@pytest.fixture
async def own(prepared, request):  # type: ignore[no-untyped-def]
    """A namespace of this test's own (topics, database), so that its workers can be killed freely."""
    suffix = re.sub(r"[^a-z0-9]+", "-", request.node.name[5:17].lower()).strip("-")
    settings = prepared.model_copy(update={"namespace": f"{prepared.namespace}-{suffix}"})
    await ensure_topics(settings)
    await upgrade(settings)
    return settings


@pytest.fixture
def workers(own: ArchiveSettings) -> Iterator[dict[str, int]]:
    offset = {"metrics": local_services.free_metrics_offset()}
    yield offset
    local_services.stop(own.namespace, services=local_services.PIPELINE)


def _start(settings: ArchiveSettings, offset: int, services: tuple[str, ...], **env: str) -> None:
    local_services.start(settings.namespace, metrics_offset=offset, extra_env={**FAST, **env}, services=services)


def _alive(settings: ArchiveSettings, service: str) -> local_services.ServiceProcess | None:
    [(proc, pid)] = local_services.status(settings.namespace, services=(service,))
    return proc if pid is not None else None


async def _publish(settings: ArchiveSettings, items: list[tuple[bytes, bytes]], partition: int | None = None) -> None:
    producer = producer_for(settings)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(settings.topic(topics.APPROVAL_COMPLETED), value, key=key, partition=partition)
    finally:
        await producer.stop()


async def _wait_exit(settings: ArchiveSettings, service: str, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _alive(settings, service) is None:
            return local_services.exit_status(settings.namespace, service)
        await asyncio.sleep(0.5)
    raise AssertionError(f"{service} did not stop within {timeout:.0f}s")


async def test_a_worker_that_cannot_settle_its_input_exits_non_zero_and_the_input_comes_again(own, workers):
    # A few MiB of garbage must be kept in the dead-letter bucket; a wrong bucket setting (a name S3
    # refuses) makes that impossible: the worker must stop with the input unacknowledged.
    garbage = b"\x00 not json " + uuid.uuid4().bytes * (3 * 1024 * 1024 // 16)
    _start(own, workers["metrics"], ("capture",), AA_DEAD_LETTER_BUCKET_BASE="Not_A_Bucket")
    await _publish(own, [(b"garbage-oversized", garbage)])
    status = await _wait_exit(own, "capture", timeout=120)
    assert status == 75, f"capture exited with {status}, expected 75 (stopped, input unacknowledged)"
    letters, _ = await read_topics(own, [topics.DEAD_LETTER], timeout=5)
    assert not letters, "no letter can exist yet"

    _start(own, workers["metrics"], ("capture",))  # the setting fixed; the orchestrator restarts it

    def lettered(seen: list[Seen]) -> bool:
        return any(s.key == "garbage-oversized" for s in seen)

    seen, complete = await read_topics(own, [topics.DEAD_LETTER], done=lettered, timeout=120)
    assert complete, "the input was acknowledged by the worker that stopped: it never came again"
    [letter] = [s.event["data"] for s in seen if s.key == "garbage-oversized"]
    assert letter["error_type"] == "NotJson" and letter["payload_base64"] == ""
    assert letter["payload_object"]["bucket"] == own.dead_letter_bucket
    kept = await MinioObjectStore.from_settings(own).get_bytes(
        letter["payload_object"]["bucket"], letter["payload_object"]["key"]
    )
    assert kept == garbage and letter["payload_bytes"] == len(garbage)


async def test_a_message_that_kills_its_worker_every_time_is_set_aside_and_the_partition_moves_on(own, workers):
    poison, good = generate_cases(2, seed=8111, wrong_digest_every=None)
    secrets = await sample_platform_secrets(own)
    events = [signed(approval_completed_event(c), secrets[c.platform]) for c in (poison, good)]
    env = {"AA_FAULT_KILL_ON_KEY": poison.case_key}
    _start(own, workers["metrics"], local_services.PIPELINE, **env)
    # both on one partition, the poison first: the good case can only pass once the poison is set aside
    await _publish(own, [(e["subject"].encode(), json.dumps(e, ensure_ascii=False).encode()) for e in events], 0)

    deaths = 0
    deadline = time.monotonic() + 300
    archived: set[str] = set()
    while good.case_key not in archived and time.monotonic() < deadline:
        if _alive(own, "capture") is None:  # what an orchestrator does: start it again
            deaths += 1
            _start(own, workers["metrics"], ("capture",), **env)
        seen, _ = await read_topics(own, [topics.ARCHIVED], timeout=2)
        archived = {s.key for s in seen if s.key}
    assert good.case_key in archived, f"the partition stayed stuck after {deaths} deaths"
    assert deaths == 3, f"the worker died {deaths} times; K = 3"
    letters, _ = await read_topics(own, [topics.DEAD_LETTER], timeout=5)
    [letter] = [s.event["data"] for s in letters if s.key == poison.case_key]
    assert letter["error_type"] == "PoisonPill"
    assert letter["reason"] == "the worker died 3 times on this message"
    assert json.loads(base64.b64decode(letter["payload_base64"]))["id"] == events[0]["id"]
    assert poison.case_key not in archived
    conn = await asyncpg.connect(own.pg_dsn())
    try:
        row = await conn.fetchrow("SELECT service, deaths FROM poison_pills WHERE origin_key = $1", poison.case_key)
        assert dict(row) == {"service": "capture", "deaths": 3}
        assert await conn.fetchval("SELECT count(*) FROM message_attempts") == 0, "acknowledged = cleared"
    finally:
        await conn.close()


async def test_replaying_a_letter_whose_cause_was_fixed_archives_the_case_once(own, workers, capsys, monkeypatch):
    [case] = generate_cases(1, seed=8222, wrong_digest_every=None)
    # The platform registered with a dialect nobody wrote a mapping for: its cases are dead-lettered.
    [secret] = (await ensure_platforms(own, {case.platform: (SAMPLE_PLATFORMS[case.platform], "nobody/v9")})).values()
    event = signed(approval_completed_event(case), secret)
    _start(own, workers["metrics"], local_services.PIPELINE)
    await _publish(own, [(case.case_key.encode(), json.dumps(event, ensure_ascii=False).encode())])

    def lettered(seen: list[Seen]) -> bool:
        return any(s.key == case.case_key for s in seen)

    seen, complete = await read_topics(own, [topics.DEAD_LETTER], done=lettered, timeout=120)
    assert complete
    [letter] = [s.event for s in seen if s.key == case.case_key]
    assert letter["data"]["error_type"] == "UnknownDialect"

    monkeypatch.setenv("AA_NAMESPACE", own.namespace)  # archivectl reads its settings from the environment
    cli: list[str] = []
    assert await asyncio.to_thread(archivectl_main, ["dlq", "list", "--kind", "UnknownDialect", *cli]) == 0
    assert letter["id"] in capsys.readouterr().out
    # the fix: the platform's dialect corrected; then the letter replayed — twice, by two operators
    await ensure_platforms(own, {case.platform: (SAMPLE_PLATFORMS[case.platform], "unified/v1")})
    assert await asyncio.to_thread(archivectl_main, ["dlq", "replay", letter["id"], *cli]) == 0
    assert await asyncio.to_thread(archivectl_main, ["dlq", "replay", letter["id"], *cli]) == 0
    out = capsys.readouterr().out
    assert "republished to" in out and "already replayed — nothing published" in out

    def archived(seen: list[Seen]) -> bool:
        return any(s.key == case.case_key for s in seen)

    seen, complete = await read_topics(own, [topics.ARCHIVED], done=archived, timeout=180)
    assert complete, "the replayed case was not archived"
    await asyncio.sleep(5)  # anything doubled would be on its way by now
    seen, _ = await read_topics(own, [topics.ARCHIVED, topics.APPROVAL_COMPLETED], timeout=10)
    assert len({s.event["id"] for s in seen if s.topic == topics.ARCHIVED and s.key == case.case_key}) == 1
    inputs = [s for s in seen if s.topic == topics.APPROVAL_COMPLETED]
    assert len(inputs) == 2, "the letter was republished once (the original and one replay)"
    conn = await asyncpg.connect(own.pg_dsn())
    try:
        assert await conn.fetchval("SELECT count(*) FROM records WHERE case_key = $1", case.case_key) == 1
    finally:
        await conn.close()


async def test_a_consumer_that_stops_delivering_is_restarted_by_its_watchdog_and_nothing_waits(own, workers):
    first, *rest = generate_cases(4, seed=8117, wrong_digest_every=None)
    secrets = await sample_platform_secrets(own)
    events = [signed(approval_completed_event(c), secrets[c.platform]) for c in (first, *rest)]
    # capture's loop hangs after the first case (what a consumer that stopped fetching looks like from
    # inside); the other three wait on the same partition
    stall = {"AA_STALL_TIMEOUT_SECONDS": "4"}
    _start(own, workers["metrics"], ("capture",), AA_FAULT_HANG_AFTER_KEY=first.case_key, **stall)
    _start(own, workers["metrics"], ("validation", "classification", "storage"), **stall)
    await _publish(own, [(e["subject"].encode(), json.dumps(e, ensure_ascii=False).encode()) for e in events], 0)

    status = await _wait_exit(own, "capture", timeout=120)
    assert status == 75, f"capture exited with {status}; the watchdog stops a stuck worker with 75"
    _start(own, workers["metrics"], ("capture",), **stall)  # what the orchestrator does

    wanted = {c.case_key for c in (first, *rest)}
    seen, complete = await read_topics(
        own, [topics.ARCHIVED], done=lambda seen: wanted <= {s.key for s in seen}, timeout=180
    )
    assert complete, f"archived: {sorted({s.key for s in seen} & wanted)} of {sorted(wanted)}"
    assert len({s.event["id"] for s in seen if s.key in wanted}) == 4, "each case archived once"

    # Nothing waits now: an idle worker is not a stuck one, however long it idles.
    await asyncio.sleep(12)
    for service in local_services.PIPELINE:
        assert _alive(own, service) is not None, f"the watchdog stopped an idle {service} with nothing waiting"
