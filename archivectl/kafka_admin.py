"""Topic administration: the pipeline's topics exist before any service or producer uses them."""

from __future__ import annotations

import asyncio
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.v1 import topics
from services.common.settings import ArchiveSettings

PARTITIONS = 3


async def ensure_topics(settings: ArchiveSettings) -> list[str]:
    """Create every v1 topic that is missing; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="archivectl")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.topic(name) for name in topics.ALL_TOPICS]
        missing = [name for name in wanted if name not in existing]
        if missing:
            # Inline attachments make approval events larger than Kafka's 1 MB default.
            config = {"max.message.bytes": str(settings.kafka_max_message_bytes)}
            try:
                await admin.create_topics(
                    [
                        NewTopic(name, num_partitions=PARTITIONS, replication_factor=1, topic_configs=config)
                        for name in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        await admin.close()


async def delete_namespace_topics(settings: ArchiveSettings) -> list[str]:
    """Delete every topic of a (test or benchmark) namespace, Faust's own internal topics included.

    Each namespace brings dozens of partitions; left on a long-lived local stack they pile up into
    thousands of partition directories that the broker must load at every start."""
    if not settings.namespace:
        raise ValueError("refusing to delete the topics of the default namespace")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="archivectl")
    await admin.start()
    try:
        prefix = f"{settings.namespace}."
        doomed = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def wait_for_group(settings: ArchiveSettings, service: str, members: int, timeout: float = 180.0) -> None:
    """Wait until `members` workers of `service` are in its consumer group and the group is stable, so
    that the partitions — and hence the cases — are spread over all of them before a measurement."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="archivectl")
    await admin.start()
    state, count = "?", 0
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [response] = await admin.describe_consumer_groups([settings.group_id(service)])
            _, _, state, _, _, group_members = response.groups[0][:6]
            count = len(group_members)
            if state == "Stable" and count == members:
                return
            await asyncio.sleep(1)
    finally:
        await admin.close()
    raise TimeoutError(f"{settings.group_id(service)}: {state} with {count} of {members} members after {timeout:.0f}s")
