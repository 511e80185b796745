"""Publishing from outside a stream worker — operator commands, the query API's actions, sample feeds: one
idempotent producer per process that waits for every in-sync replica before a publish counts as done.

`KafkaPublisher` is the runner's `Publisher` (services/common/runner.py) on aiokafka, as `FaustPublisher`
(services/common/stream_app.py) is inside the workers; code that publishes takes a `Publisher` and does
not care which."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.envelope import CloudEvent
from services.common.codec import encode_event
from services.common.runner import Publisher
from services.common.settings import ArchiveSettings


def producer_for(settings: ArchiveSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=settings.kafka_max_message_bytes,
        linger_ms=5,
    )


class KafkaPublisher:
    """One producer, started on the first publish (a process that never publishes never needs Kafka) and
    kept until `close()`. Use as `async with KafkaPublisher(settings) as publisher:` or keep one per process."""

    def __init__(self, settings: ArchiveSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = producer_for(self._settings)
                await producer.start()
                self._producer = producer
            return self._producer

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """`topic` is the full topic name (namespace included); returns once the broker acknowledged."""
        producer = await self._started()
        await producer.send_and_wait(topic, value, key=key)

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        """Enqueue without waiting; await the returned future for the acknowledgement (bulk feeds)."""
        producer = await self._started()
        return await producer.send(topic, value, key=key)

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> KafkaPublisher:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()


async def publish_event(publisher: Publisher, topic: str, event: CloudEvent[Any]) -> None:
    """Publish one event to the full topic name `topic`, keyed by its subject as the runner keys it, and
    wait for the broker's acknowledgement."""
    await publisher.publish(topic, (event.subject or event.id).encode(), encode_event(event))
