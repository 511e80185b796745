"""Topic administration: the pipeline's topics exist before any service or producer uses them."""

from __future__ import annotations

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
