"""Faust wiring shared by the four pipeline services: one app per service (its own consumer group),
one agent that feeds every message of the input topic through the StepRunner, the service's scheduled
jobs through the JobRunner, and the worker main.

Each service's app.py only names its input topic, input model and its composition root
(`services/<name>/bootstrap.py`); nothing is created at import.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict

import asyncpg
import faust

from contracts.v1 import ObjectRef
from services.common import metrics
from services.common.adapters.attempt_ledger import PgAttemptLedger
from services.common.adapters.case_progress import PgCaseProgress
from services.common.adapters.consumer_lag import GroupInput, KafkaConsumerLag, KafkaUnavailable
from services.common.adapters.object_store import MinioObjectStore
from services.common.allocator import pin_malloc_thresholds
from services.common.codec import InboundEnvelope
from services.common.composition import Service
from services.common.in_flight import InFlight
from services.common.logs import configure_logging, logging_config
from services.common.metrics import serve_metrics
from services.common.runner import Backoff, DeadLetterGuard, InboundMessage, JobRunner, StepRunner, WorkerMustStop
from services.common.settings import ArchiveSettings
from services.common.stall import StallWatch, waiting_messages

log = logging.getLogger(__name__)


class _RawCodecs(TypedDict):
    key_serializer: str
    value_serializer: str


_RAW: _RawCodecs = {"key_serializer": "raw", "value_serializer": "raw"}


class FaustPublisher:
    """Publishes through the app's own producer and returns only after the broker acknowledged."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self._topics: dict[str, Any] = {}

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        channel = self._topics.get(topic)
        if channel is None:
            channel = self._topics[topic] = self.app.topic(topic, **_RAW)
        # force=True: send now, not "attached" to the input event's commit. The outer await enqueues,
        # the inner one waits for the delivery report.
        delivery = await channel.send(key=key, value=value, force=True)
        await delivery


# The exit status of a worker that stopped itself with its input unacknowledged (EX_TEMPFAIL): its
# orchestrator restarts it and the input is delivered again.
EXIT_WORKER_MUST_STOP = 75


class DeadLetterBucket:
    """Keeps inputs too large for their dead letter in the namespace's dead-letter bucket."""

    def __init__(self, settings: ArchiveSettings) -> None:
        self.store = MinioObjectStore.from_settings(settings)
        self.bucket = settings.dead_letter_bucket

    async def keep(self, key: str, data: bytes) -> ObjectRef:
        await self.store.ensure_bucket(self.bucket)
        await self.store.put_bytes(self.bucket, key, data, content_type="application/octet-stream")
        return ObjectRef(bucket=self.bucket, key=key)


class ConsumerStalled(Exception):
    """The worker's consumer stopped delivering while messages wait on its partitions (services/common/stall.py)."""


@dataclass
class ConsumerActivity:
    """What the stall watchdog reads of the agent's loop: messages received so far, a step in flight."""

    received: int = 0
    window: InFlight | None = None

    @property
    def in_flight(self) -> bool:
        return self.window is not None and self.window.count > 0


async def watch_for_stall(
    app: faust.App,
    *,
    service: str,
    settings: ArchiveSettings,
    topic: str,
    activity: ConsumerActivity,
    lag: KafkaConsumerLag | None = None,
) -> None:
    """Stop the worker (status 75, for its orchestrator to restart it) when its consumer is stuck: alive,
    nothing in flight, nothing received for `stall_timeout_seconds` while messages wait on the partitions
    assigned to it. A restart rejoins the group and fetches again from the committed offsets."""
    timeout = settings.stall_timeout_seconds
    interval = min(15.0, max(timeout / 6, 0.5))
    group = GroupInput(service, settings.group_id(service), topic)
    lag = lag or KafkaConsumerLag(settings.kafka_bootstrap, client_id=f"{group.group_id}-watchdog")
    watch, seen = StallWatch(timeout), activity.received
    try:
        while True:
            await asyncio.sleep(interval)
            received, seen = activity.received != seen, activity.received
            assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)
            waiting: dict[int, int] | None = {}
            if assigned and not received and not activity.in_flight:
                try:
                    [offsets] = await lag.offsets([group])
                    waiting = waiting_messages(assigned, offsets.partitions)
                except KafkaUnavailable:
                    waiting = None
            was_suspect = watch.suspect_since is not None
            stuck = watch.observe(
                now=time.monotonic(), received=received, in_flight=activity.in_flight, waiting=waiting
            )
            if watch.suspect_since is not None and not was_suspect:
                log.warning(
                    "consumer received nothing while messages wait on its partitions; watching",
                    extra={"waiting": waiting, "stall_timeout_seconds": timeout},
                )
            if stuck:
                cause = ConsumerStalled(
                    f"the consumer received nothing for {timeout:.0f}s, with no step in flight, while "
                    f"{sum((waiting or {}).values())} messages wait on its partitions {sorted(waiting or {})} of "
                    f"{topic}: restarting the worker to rejoin the group and fetch again"
                )
                try:
                    raise WorkerMustStop(str(cause)) from cause
                except WorkerMustStop as exc:
                    await stop_worker(service, exc, settings.worker_stop_delay_seconds)
    finally:
        await lag.close()


async def stop_worker(service: str, exc: WorkerMustStop, delay: float) -> None:
    """Stop the process now, the input unacknowledged: a graceful Faust shutdown could still commit it."""
    metrics.WORKER_STOPS.labels(service, type(exc.__cause__ or exc).__name__).inc()
    log.critical(
        "stopping the worker; its input stays unacknowledged and is delivered again after a restart",
        extra={"reason": str(exc)[:2000], "exit_status": EXIT_WORKER_MUST_STOP},
    )
    await asyncio.sleep(delay)  # let Prometheus scrape why
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_WORKER_MUST_STOP)


def make_app(service: str, settings: ArchiveSettings) -> faust.App:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.group_id(service),
        broker=f"kafka://{settings.kafka_bootstrap}",
        web_enabled=False,
        datadir=str(settings.state_dir / f"{settings.namespace or 'default'}-{service}"),
        topic_partitions=3,
        topic_replication_factor=1,
        producer_acks=-1,
        producer_max_request_size=settings.kafka_max_message_bytes,
        consumer_max_fetch_size=settings.kafka_max_message_bytes,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
        # Faust buffers up to 4096 events per stream by default; approval events carry their files
        # inline (~260 KiB each), so a backlog would cost a gigabyte. A small buffer bounds memory and
        # costs nothing in throughput: the worker settles only a few messages at a time anyway
        # (in_flight_max_inputs).
        stream_buffer_maxsize=32,
        **_RAW,
    )


def bind_service(
    app: faust.App,
    *,
    service: str,
    settings: ArchiveSettings,
    input_topic: str,
    input_model: type[InboundEnvelope],
    build: Callable[[], Awaitable[Service[Any]]],
) -> None:
    """Register the service's agent. `build` (the service's composition root) creates the adapters —
    buckets, migrations, the pool — once, at start-up; a transient failure there is retried like any
    other. The scheduled jobs it returns run beside the stream until the worker stops."""
    backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
    source = app.topic(settings.topic(input_topic), **_RAW)

    # faust types an agent's argument as StreamT, which lacks the Stream methods used below (noack).
    @app.agent(source, name=f"{service}.step", concurrency=1)  # type: ignore[arg-type]
    async def process(stream: faust.Stream) -> None:
        built = await backoff.run(build, service=service, what="start-up")
        # What became of each case, for its platform (GET /api/v1/platform/cases/…): the runner's hook.
        progress = await backoff.run(lambda: PgCaseProgress.connect(settings), service=service, what="start-up")
        publisher = FaustPublisher(app)
        # `build` has migrated the database. The poison-pill ledger has a connection of its own, so that its
        # two statements per message never wait behind the step's.
        ledger_pool = await backoff.run(
            lambda: asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=1), service=service, what="start-up"
        )
        runner = StepRunner(
            service=service,
            input_topic=input_topic,
            input_model=input_model,
            step=built.step,
            publisher=publisher,
            topic_name=settings.topic,
            backoff=backoff,
            progress=progress,
            payload_keeper=DeadLetterBucket(settings),
            inline_payload_max_bytes=settings.dead_letter_inline_max_bytes,
            guard=DeadLetterGuard(
                settings.dlq_guard_window, settings.dlq_guard_max_share, settings.dlq_guard_min_messages
            ),
            ledger=PgAttemptLedger(ledger_pool, settings.group_id(service)),
            poison_pill_deaths=settings.poison_pill_deaths,
            fault_kill_on_key=settings.fault_kill_on_key,
            weigh=built.weigh,
        )
        jobs = [
            asyncio.create_task(
                JobRunner(service=service, name=job.name, run=job.run, publisher=publisher, backoff=backoff).run_every(
                    job.interval_seconds
                ),
                name=f"{service}.{job.name}",
            )
            for job in built.jobs
        ]
        activity = ConsumerActivity()
        if settings.stall_timeout_seconds > 0:
            jobs.append(
                asyncio.create_task(
                    watch_for_stall(
                        app, service=service, settings=settings, topic=settings.topic(input_topic), activity=activity
                    ),
                    name=f"{service}.stall-watchdog",
                )
            )
        hang_after = settings.fault_hang_after_key.encode() if settings.fault_hang_after_key else b""
        window = InFlight(
            runner.settle,
            limit=settings.in_flight_max_inputs,
            budget_bytes=settings.in_flight_max_scratch_bytes,
            on_stop=lambda exc: stop_worker(service, exc, settings.worker_stop_delay_seconds),
        )
        activity.window = window
        log.info(
            "ready",
            extra={
                "input_topic": settings.topic(input_topic),
                "jobs": [j.name for j in built.jobs],
                "in_flight_max_inputs": settings.in_flight_max_inputs,
            },
        )
        try:
            # Manual acks: Faust acks an event in a `finally` as soon as the loop body is left — also when a
            # shutdown cancels the body in the middle of a retry, which would commit a message never handled.
            # With noack(), only the explicit ack (after the outputs are delivered, in offset order: the
            # window's) commits the offset.
            manual = stream.noack()
            async for event in manual.events():
                message = event.message
                inbound = InboundMessage(message.topic, message.partition, message.offset, message.key, message.value)
                activity.received += 1
                settling = await window.submit(inbound, partial(manual.ack, event), weight=runner.weight(inbound))
                if hang_after and message.key == hang_after:
                    await asyncio.wait({settling})
                    log.warning("fault injection: the consumer loop hangs here (AA_FAULT_HANG_AFTER_KEY)")
                    await asyncio.Event().wait()
        finally:
            await window.cancel_all()
            for task in jobs:
                task.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await built.close()
            await progress.close()
            await ledger_pool.close()


def worker_app(
    service: str,
    settings: ArchiveSettings,
    *,
    input_topic: str,
    input_model: type[InboundEnvelope],
    build: Callable[[], Awaitable[Service[Any]]],
) -> faust.App:
    """A service's Faust app with its agent bound: what each service's `create_app(settings)` returns."""
    app = make_app(service, settings)
    bind_service(app, service=service, settings=settings, input_topic=input_topic, input_model=input_model, build=build)
    return app


def run_worker(app: faust.App, service: str, settings: ArchiveSettings) -> None:
    """The process main of a service: JSON logs, /metrics, then the Faust worker (which stops cleanly on
    SIGTERM/SIGINT)."""
    configure_logging(service, settings.log_level)
    pin_malloc_thresholds(settings.malloc_mmap_threshold_bytes, settings.malloc_trim_threshold_bytes)
    port = serve_metrics(service, settings.metrics_port, settings.metrics_host)
    log.info(
        "starting", extra={"metrics_port": port, "kafka": settings.kafka_bootstrap, "namespace": settings.namespace}
    )
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        logging_config=logging_config(service, settings.log_level),
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
