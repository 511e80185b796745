"""The one step runner every service uses.

A service author writes a step — `async (event) -> [Outbound]` — and domain rules. The runner owns the
rest, in this order (after getsentry/arroyo): decode and validate the envelope → run the step → deliver
its outputs and wait for the broker's acknowledgement → return, and only then does the caller
acknowledge the input. So:

* a transient fault (broker, object store, database down) is retried with backoff for as long as it
  lasts; the partition waits (backpressure) and nothing is dropped;
* input that can never succeed goes to `archive.dlq.v1` with its origin topic, partition, offset and a
  reason; the worker carries on with the next message;
* a crash anywhere before the return leaves the input unacknowledged, so it is redelivered; steps are
  idempotent and re-emit the same events, so redelivery changes nothing.

`handle()` never raises except for cancellation: Faust acknowledges an event even when the agent
raises, so the decision cannot be left to Faust.

Scheduled jobs (the storage fixity audit, and later ones) run through `JobRunner`: the same Backoff for
transient faults, a failed round logged and counted, and the next round tries again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from contracts.envelope import CloudEvent, utc_now
from contracts.v1 import DeadLetter, DeadLetterEvent, topics
from services.common import metrics
from services.common.codec import InboundEnvelope, decode_event, encode_event
from services.common.faults import InvalidInput, fault_name, is_transient
from services.common.logs import case_context

log = logging.getLogger(__name__)

InT = TypeVar("InT", bound=InboundEnvelope)
T = TypeVar("T")


@dataclass(frozen=True)
class InboundMessage:
    """A message as it came off the broker, before anything was decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Outbound:
    """An event a step wants published; `topic` is the contract topic name (namespace added later)."""

    topic: str
    event: CloudEvent[Any]

    @property
    def key(self) -> bytes:
        # Keyed by case so every event of a case lands on the same partition, in order.
        return (self.event.subject or self.event.id).encode("utf-8")


class Publisher(Protocol):
    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Return only once the broker has acknowledged the message."""


Step = Callable[[InT], Awaitable[Sequence[Outbound]]]


class ProgressJournal(Protocol):
    """Told what became of each case message, so that a platform can ask what became of its case
    (services/common/adapters/case_progress.py). A view, not the truth: the events are."""

    async def started(self, service: str, input_topic: str, event: Any) -> None: ...
    async def handled(self, service: str, input_topic: str, event: Any, outputs: Sequence[Outbound]) -> None: ...
    async def dead_lettered(self, letter: DeadLetterEvent) -> None: ...


class Backoff:
    """Exponential backoff without a give-up: a transient fault is waited out, never turned into loss."""

    def __init__(self, initial: float, cap: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.initial, self.cap, self._sleep = initial, cap, sleep

    async def run(self, operation: Callable[[], Awaitable[T]], *, service: str, what: str) -> T:
        delay = self.initial
        attempt = 0
        while True:
            try:
                return await operation()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                metrics.TRANSIENT_RETRIES.labels(service, fault_name(exc)).inc()
                log.warning(
                    "transient fault, will retry",
                    extra={
                        "what": what,
                        "fault": fault_name(exc),
                        "error": str(exc)[:500],
                        "attempt": attempt,
                        "retry_in_seconds": delay,
                    },
                )
                await self._sleep(delay)
                delay = min(delay * 2, self.cap)


class StepRunner(Generic[InT]):
    def __init__(
        self,
        *,
        service: str,
        input_topic: str,
        input_model: type[InT],
        step: Step[InT],
        publisher: Publisher,
        topic_name: Callable[[str], str] = lambda name: name,
        backoff: Backoff | None = None,
        progress: ProgressJournal | None = None,
    ) -> None:
        self.progress = progress
        self.service = service
        self.input_topic = input_topic
        self.input_model = input_model
        self.step = step
        self.publisher = publisher
        self.topic_name = topic_name
        self.backoff = backoff or Backoff(0.5, 30.0)

    async def handle(self, message: InboundMessage) -> None:
        metrics.MESSAGES_CONSUMED.labels(self.service, self.input_topic).inc()
        metrics.IN_FLIGHT.labels(self.service).inc()
        started = time.perf_counter()
        try:
            await self._handle(message)
        finally:
            metrics.IN_FLIGHT.labels(self.service).dec()
            metrics.STEP_DURATION.labels(self.service, self.input_topic).observe(time.perf_counter() - started)

    async def _handle(self, message: InboundMessage) -> None:
        try:
            event = decode_event(message.value, self.input_model, self.input_topic)
        except InvalidInput as exc:
            await self._dead_letter(message, exc.kind, exc.reason)
            return
        with case_context(correlation_id=event.correlationid, case_key=event.subject, event_id=event.id):
            progress = self.progress
            if progress is not None:
                await self._note(lambda: progress.started(self.service, self.input_topic, event))
            try:
                outputs = await self.backoff.run(lambda: self.step(event), service=self.service, what="step")
            except InvalidInput as exc:
                await self._dead_letter(message, exc.kind, exc.reason)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A bug or an input the rules did not foresee. Dead-letter it with the evidence rather
                # than kill the worker; the DLQ metric and log make it loud.
                log.exception("step failed unexpectedly; dead-lettering the message")
                await self._dead_letter(message, fault_name(exc), f"unexpected error in {self.service}: {exc!r}")
                return
            for out in outputs:
                await self._publish(out.topic, out.key, encode_event(out.event))
            if progress is not None:
                await self._note(lambda: progress.handled(self.service, self.input_topic, event, outputs))
            log.info("handled", extra={"outputs": [o.topic for o in outputs]})

    async def _note(self, journal_write: Callable[[], Awaitable[None]]) -> None:
        """Write to the progress journal. A transient fault is waited out like any other; anything else is
        logged and the message goes on: the outputs are already sent, and a journal entry is not worth
        dead-lettering a case that was handled (a redelivery writes it again)."""

        try:
            await self.backoff.run(journal_write, service=self.service, what="progress journal")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not record the case's progress; the case itself was handled")

    async def _publish(self, topic: str, key: bytes, value: bytes) -> None:
        await self.backoff.run(
            lambda: self.publisher.publish(self.topic_name(topic), key, value), service=self.service, what="publish"
        )
        metrics.MESSAGES_PRODUCED.labels(self.service, topic).inc()

    async def _dead_letter(self, message: InboundMessage, kind: str, reason: str) -> None:
        metrics.MESSAGES_FAILED.labels(self.service, kind).inc()
        origin_key = message.key.decode("utf-8", "replace") if message.key else None
        letter = DeadLetterEvent(
            id=f"dlq:{message.topic}:{message.partition}:{message.offset}",
            source=f"urn:approval-archive:{self.service}",
            type=topics.DEAD_LETTER,
            time=utc_now(),
            subject=origin_key,
            correlationid=origin_key or f"{message.topic}:{message.partition}:{message.offset}",
            data=DeadLetter(
                service=self.service,
                origin_topic=message.topic,
                origin_partition=message.partition,
                origin_offset=message.offset,
                origin_key=origin_key,
                error_type=kind,
                reason=reason,
                payload_base64=base64.b64encode(message.value or b"").decode("ascii"),
                failed_at=utc_now(),
            ),
        )
        log.error(
            "dead-lettered",
            extra={
                "error_type": kind,
                "reason": reason[:1000],
                "origin_topic": message.topic,
                "origin_partition": message.partition,
                "origin_offset": message.offset,
            },
        )
        await self._publish(topics.DEAD_LETTER, (origin_key or letter.id).encode("utf-8"), encode_event(letter))
        progress = self.progress
        if progress is not None:
            await self._note(lambda: progress.dead_lettered(letter))


class JobRunner:
    """Runs rounds of one scheduled job: a transient fault is retried with the runner's Backoff (the round
    waits it out, as a step would); any other failure is logged and counted, and the next round tries
    again. Never raises except for cancellation, so a timer loop survives every round."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        run: Callable[[Publisher], Awaitable[None]],
        publisher: Publisher,
        backoff: Backoff | None = None,
    ) -> None:
        self.service, self.name, self._run, self.publisher = service, name, run, publisher
        self.backoff = backoff or Backoff(0.5, 30.0)

    async def run_once(self) -> bool:
        """One round; True if it completed."""
        started = time.perf_counter()
        outcome = "failed"
        try:
            await self.backoff.run(lambda: self._run(self.publisher), service=self.service, what=f"job {self.name}")
            outcome = "completed"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            log.exception("scheduled job round failed; the next round will try again", extra={"job": self.name})
        finally:
            metrics.JOB_ROUNDS.labels(self.service, self.name, outcome).inc()
            metrics.JOB_DURATION.labels(self.service, self.name).observe(time.perf_counter() - started)
        return outcome == "completed"

    async def run_every(
        self, interval_seconds: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        """Round after round, `interval_seconds` apart (the first after one interval), until cancelled."""
        while True:
            await sleep(interval_seconds)
            await self.run_once()
