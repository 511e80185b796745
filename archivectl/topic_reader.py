"""Reading what the pipeline emitted: a group-less consumer over whole topics, from the beginning.

Used by the summary of `make up`, by the end-to-end tests and by the benchmark, so all three observe
the pipeline the same way a supervision system does: as events on the public topics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.settings import ArchiveSettings


@dataclass(frozen=True)
class Seen:
    topic: str  # contract topic name (namespace removed)
    key: str | None
    event: dict[str, Any]
    arrived_at: float  # time.time() when this reader received it
    offset: int = -1


async def read_topics(
    settings: ArchiveSettings,
    contract_topics: Iterable[str],
    *,
    done: Callable[[list[Seen]], bool] | None = None,
    timeout: float,
    on_event: Callable[[Seen], None] | None = None,
) -> tuple[list[Seen], bool]:
    """Read the topics from their start until `done(seen)` is true or `timeout` passes — without `done`,
    until each partition's end as it was when reading began. Returns what was seen and whether `done`
    (or the end) was reached."""
    names = {settings.topic(t): t for t in contract_topics}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=settings.kafka_max_message_bytes,
        fetch_max_bytes=4 * settings.kafka_max_message_bytes,
    )
    await consumer.start()
    seen: list[Seen] = []
    try:
        partitions = []
        for name in names:
            for p in await _partitions_for(consumer, name):
                partitions.append(TopicPartition(name, p))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = {}  # reading to the end: the partitions not there yet
        if done is None:
            ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items() if end > 0}

            def done(_: list[Seen]) -> bool:
                return not ends

        deadline = time.monotonic() + timeout
        while not done(seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return seen, False
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000), max_records=500)
            now = time.time()
            for tp, messages in batch.items():
                for m in messages:
                    try:
                        event = json.loads(m.value)
                    except (TypeError, ValueError):
                        event = {"undecodable": True}
                    item = Seen(
                        names[tp.topic], m.key.decode("utf-8", "replace") if m.key else None, event, now, m.offset
                    )
                    if m.offset + 1 >= ends.get(tp, 0):
                        ends.pop(tp, None)
                    seen.append(item)
                    if on_event:
                        on_event(item)
        return seen, True
    finally:
        await consumer.stop()


async def _partitions_for(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):  # metadata of a just-created topic may take a moment
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return parts
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} does not exist — run `make up` or `archivectl topics`")
