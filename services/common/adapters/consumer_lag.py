"""Consumer lag of the pipeline's consumer groups, read from Kafka (aiokafka admin client + a group-less
consumer): per partition of each group's input topic, the log's start and end offsets and the offset the
group committed. The arithmetic (lag = end − max(committed, start)) is in services/query/dashboard_data.py.

The clients are kept between calls (a poll every few seconds should not pay a bootstrap each time) and
thrown away after any failure, so a broker that comes back is found again on the next call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupInput:
    """A consumer group and the topic it reads (names as on the broker, namespace included)."""

    service: str
    group_id: str
    topic: str


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    start: int  # the log start offset (older messages were deleted by retention)
    end: int  # the offset the next message will get
    committed: int | None  # None: the group never committed on this partition


@dataclass(frozen=True)
class GroupOffsets:
    group: GroupInput
    topic_exists: bool
    partitions: tuple[PartitionOffsets, ...]


class KafkaUnavailable(Exception):
    """Kafka did not answer (or answered with an error) within the deadline."""


class KafkaConsumerLag:
    def __init__(
        self, bootstrap_servers: str, *, timeout_seconds: float = 5.0, client_id: str = "archive-consumer-lag"
    ):
        self.bootstrap_servers = bootstrap_servers
        self.timeout_seconds = timeout_seconds
        self.client_id = client_id
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def offsets(self, groups: Sequence[GroupInput]) -> list[GroupOffsets]:
        """Offsets of every group on its input topic. Raises KafkaUnavailable with what went wrong."""
        try:
            return await asyncio.wait_for(self._offsets(groups), self.timeout_seconds)
        except Exception as exc:
            await self.close()
            raise KafkaUnavailable(f"Kafka at {self.bootstrap_servers} {_what_failed(exc)}") from exc

    async def _offsets(self, groups: Sequence[GroupInput]) -> list[GroupOffsets]:
        admin, consumer = await self._clients()
        # Describe only topics that exist: a metadata request for a missing topic makes a broker with
        # auto.create.topics.enable create it (with default settings) — looking must not create.
        existing = set(await admin.list_topics())
        topics = sorted({g.topic for g in groups} & existing)
        described = {d["topic"]: d for d in await admin.describe_topics(topics)} if topics else {}
        partitions = {
            topic: sorted(p["partition"] for p in d["partitions"])
            for topic, d in described.items()
            if d["error_code"] == 0 and d["partitions"]
        }
        tps = [TopicPartition(topic, p) for topic, ps in partitions.items() for p in ps]
        ends = await consumer.end_offsets(tps) if tps else {}
        starts = await consumer.beginning_offsets(tps) if tps else {}
        result = []
        for group in groups:
            own = [TopicPartition(group.topic, p) for p in partitions.get(group.topic, [])]
            committed = await admin.list_consumer_group_offsets(group.group_id, partitions=own) if own else {}
            result.append(
                GroupOffsets(
                    group=group,
                    topic_exists=group.topic in partitions,
                    partitions=tuple(
                        PartitionOffsets(
                            partition=tp.partition,
                            start=starts[tp],
                            end=ends[tp],
                            committed=_committed(committed.get(tp)),
                        )
                        for tp in own
                    ),
                )
            )
        return result

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            timeout_ms = int(self.timeout_seconds * 1000)
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, client_id=self.client_id, request_timeout_ms=timeout_ms
            )
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                group_id=None,  # reads offsets only; joins no group and commits nothing
                enable_auto_commit=False,
                request_timeout_ms=timeout_ms,
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _quietly_close(admin, consumer)
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        await _quietly_close(admin, consumer)


def _what_failed(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "did not answer in time"
    detail = str(exc) or type(exc).__name__
    # aiokafka's errors already start with their class name; others get it in front.
    return f"failed: {detail if detail.startswith(type(exc).__name__) else f'{type(exc).__name__}: {detail}'}"


def _committed(meta: object) -> int | None:
    offset = getattr(meta, "offset", None)
    return offset if isinstance(offset, int) and offset >= 0 else None


async def _quietly_close(admin: AIOKafkaAdminClient | None, consumer: AIOKafkaConsumer | None) -> None:
    # Closing after a failure must not raise over the failure being reported.
    # Each coroutine is made only when it is awaited: one made and never awaited (the first close was
    # cancelled) warns "never awaited", an error under the tests.
    closers = [close for close in ((admin.close if admin else None), (consumer.stop if consumer else None)) if close]
    for close in closers:
        try:
            await asyncio.wait_for(close(), 5)
        except Exception:
            log.debug("closing a Kafka client after a failure failed too", exc_info=True)
