"""The runner on the real broker: garbage is dead-lettered with a reason, the service keeps running,
and the next good case is archived."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from archivectl import local_services
from archivectl.feed import publish_events
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_cases

pytestmark = pytest.mark.integration


async def _publish_raw(settings, items: list[tuple[bytes, bytes]]) -> None:  # type: ignore[no-untyped-def]
    from archivectl.feed import producer_for

    producer = producer_for(settings)
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(settings.topic(topics.APPROVAL_COMPLETED), value, key=key)
    finally:
        await producer.stop()


async def test_garbage_is_dead_lettered_and_the_next_good_case_is_archived(pipeline):
    [good] = [c for c in generate_cases(40, seed=7001, wrong_digest_every=None)][-1:]
    good_event = approval_completed_event(good)
    invalid_record = copy.deepcopy(good_event)
    invalid_record["id"] = "invalid-record-1"
    invalid_record["data"]["materials"][0]["sha256"] = "XYZ"
    garbage = [
        (b"garbage-1", b"\x00\x01 this is not json"),
        (b"garbage-2", json.dumps({"hello": "a JSON object that is no CloudEvent"}).encode()),
        (b"garbage-3", json.dumps(invalid_record).encode()),
    ]
    await _publish_raw(pipeline, garbage)
    await publish_events(pipeline, [good_event])

    keys = {k.decode() for k, _ in garbage}

    def done(seen):  # type: ignore[no-untyped-def]
        letters = {s.key for s in seen if s.topic == topics.DEAD_LETTER}
        archived = {s.key for s in seen if s.topic == topics.ARCHIVED}
        return keys <= letters and good_event["subject"] in archived

    seen, complete = await read_topics(pipeline, [topics.DEAD_LETTER, topics.ARCHIVED], done=done, timeout=120)
    assert complete, f"saw only {[(s.topic, s.key) for s in seen]}"
    letters = {s.key: s.event["data"] for s in seen if s.topic == topics.DEAD_LETTER and s.key in keys}
    assert letters["garbage-1"]["error_type"] == "NotJson"
    assert letters["garbage-2"]["error_type"] == "NotCloudEvent"
    assert letters["garbage-3"]["error_type"] == "InvalidRecord"
    assert "data.materials.0.sha256" in letters["garbage-3"]["reason"]
    for key, value in garbage:
        letter = letters[key.decode()]
        assert letter["origin_topic"] == pipeline.topic(topics.APPROVAL_COMPLETED)
        assert letter["origin_offset"] >= 0
        assert base64.b64decode(letter["payload_base64"]) == value
    assert all(pid is not None for _, pid in local_services.status(pipeline.namespace)), "a service died"
