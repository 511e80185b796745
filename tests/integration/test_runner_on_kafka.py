"""The runner on the real broker: garbage is dead-lettered with a reason, the service keeps running,
and the next good case is archived."""

from __future__ import annotations

import base64
import copy
import json
import uuid

import pytest

from archivectl import local_services
from archivectl.feed import publish_events
from archivectl.platforms import sample_platform_secrets, signed
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_cases

pytestmark = pytest.mark.integration


async def _publish_raw(settings, items: list[tuple[bytes, bytes]]) -> None:  # type: ignore[no-untyped-def]
    from services.common.producer import KafkaPublisher

    async with KafkaPublisher(settings) as publisher:
        for key, value in items:
            await publisher.publish(settings.topic(topics.APPROVAL_COMPLETED), key, value)


async def test_garbage_is_dead_lettered_and_the_next_good_case_is_archived(pipeline):
    [good] = [c for c in generate_cases(40, seed=7001, wrong_digest_every=None)][-1:]
    secrets = await sample_platform_secrets(pipeline)
    good_event = signed(approval_completed_event(good), secrets[good.platform])
    # A valid envelope whose data is no record of any dialect (not a JSON object): nobody to address.
    invalid_record = copy.deepcopy(good_event)
    invalid_record["id"] = "invalid-record-1"
    invalid_record["data"] = ["not", "a", "record"]
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
    assert "data: Input should be a valid dictionary" in letters["garbage-3"]["reason"]
    for key, value in garbage:
        letter = letters[key.decode()]
        assert letter["origin_topic"] == pipeline.topic(topics.APPROVAL_COMPLETED)
        assert letter["origin_offset"] >= 0
        assert base64.b64decode(letter["payload_base64"]) == value
    assert all(
        pid is not None for _, pid in local_services.status(pipeline.namespace, services=local_services.PIPELINE)
    ), "a service died"


async def test_a_readable_record_that_does_not_map_goes_back_to_its_platform(pipeline):
    [case] = generate_cases(1, seed=7002, wrong_digest_every=None)
    secrets = await sample_platform_secrets(pipeline)
    event = approval_completed_event(case)
    event["id"] = str(uuid.uuid4())  # sample ids derive from the case number, which other tests also feed
    event["data"]["case_number"] += "-unmappable"
    event["subject"] = f"{case.platform}/{event['data']['case_number']}/r1"
    event["data"]["materials"][0]["sha256"] = "XYZ"
    await publish_events(pipeline, [signed(event, secrets[case.platform])])

    def rejected(seen):  # type: ignore[no-untyped-def]
        return any(s.key == event["subject"] for s in seen if s.topic == topics.REJECTED)

    seen, complete = await read_topics(pipeline, [topics.REJECTED], done=rejected, timeout=120)
    assert complete
    [rejection] = [s.event["data"] for s in seen if s.key == event["subject"]]
    assert rejection["case"]["source_platform"] == case.platform
    assert [f["code"] for f in rejection["failures"]] == ["CAP-MAPPING"]
    assert "materials.0.sha256" in rejection["failures"][0]["reason_en"]
