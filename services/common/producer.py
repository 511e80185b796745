"""Publishing from outside a stream worker — operator commands, the query API's actions, sample feeds: an
idempotent producer that waits for every in-sync replica before a publish counts as done."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.envelope import CloudEvent
from services.common.codec import encode_event
from services.common.settings import ArchiveSettings


def producer_for(settings: ArchiveSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=settings.kafka_max_message_bytes,
        linger_ms=5,
    )


async def publish_event(settings: ArchiveSettings, topic: str, event: CloudEvent[Any]) -> None:
    """Publish one event to `topic` (of the settings' namespace), keyed by its subject as the runner keys
    it, and wait for the broker's acknowledgement."""
    producer = producer_for(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(topic), encode_event(event), key=(event.subject or event.id).encode()
        )
    finally:
        await producer.stop()
