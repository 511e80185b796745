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

A dead letter carries the input inline (base64) up to `inline_payload_max_bytes`; a larger input is kept
in the dead-letter bucket (key: origin topic/partition/offset) and the letter references it, so a letter
never outgrows its topic.

`handle()` returns when the input's fate is settled (outputs delivered, or its letter delivered). When
it cannot be settled — the letter itself cannot be written, or the dead-letter guard finds most recent
messages failing (a bad deploy) — it raises `WorkerMustStop`: the caller must NOT acknowledge the input
and must stop the process (stream_app exits non-zero), so the input is redelivered after a restart.
Faust acknowledges an event even when the agent raises, so that decision is never left to Faust.

Scheduled jobs (the storage fixity audit, the outbox relay) run through `JobRunner`: the same Backoff for
transient faults, a failed round logged and counted, and the next round tries again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from contracts.envelope import CloudEvent, utc_now
from contracts.v1 import DeadLetter, DeadLetterEvent, ObjectRef, topics
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


class PayloadKeeper(Protocol):
    async def keep(self, key: str, data: bytes) -> ObjectRef:
        """Store `data` under `key` (overwriting the same bytes on redelivery is fine)."""


class AttemptLedger(Protocol):
    """Starts of a message that never finished, kept outside the worker (adapters/attempt_ledger.py)."""

    async def begin(self, message: InboundMessage) -> int: ...
    async def finish(self, message: InboundMessage) -> None: ...
    async def interrupted(self, message: InboundMessage) -> None: ...
    async def set_aside(self, message: InboundMessage, *, service: str, deaths: int) -> None: ...


Step = Callable[[InT], Awaitable[Sequence[Outbound]]]

# Inputs up to this size travel inside their letter; larger ones are kept in the dead-letter bucket.
# 1 MiB: far below the topic's 8 MiB limit even after base64 (4/3), and a DLQ consumer stays light.
INLINE_PAYLOAD_MAX_BYTES = 1024 * 1024
# A letter's reason is for a person; pydantic's account of a huge invalid input can be megabytes.
REASON_MAX_CHARS = 8000


class WorkerMustStop(Exception):
    """The input's fate cannot be settled here: do not acknowledge it, stop the worker (non-zero exit)."""


@dataclass
class DeadLetterGuard:
    """After getsentry/arroyo: a worker that dead-letters more than `max_share` of its last `window`
    messages is not looking at bad input but is itself broken (a bad deploy, a wrong setting) — it stops
    instead of draining its topic into the DLQ. It judges only once it has seen `min_messages`."""

    window: int = 100
    max_share: float = 0.5
    min_messages: int = 20

    def __post_init__(self) -> None:
        self._outcomes: deque[bool] = deque(maxlen=self.window)

    def record(self, dead_lettered: bool) -> None:
        self._outcomes.append(dead_lettered)

    def share(self) -> float:
        return sum(self._outcomes) / len(self._outcomes) if self._outcomes else 0.0

    def tripped(self) -> bool:
        return len(self._outcomes) >= self.min_messages and self.share() > self.max_share


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
        payload_keeper: PayloadKeeper | None = None,
        inline_payload_max_bytes: int = INLINE_PAYLOAD_MAX_BYTES,
        guard: DeadLetterGuard | None = None,
        ledger: AttemptLedger | None = None,
        poison_pill_deaths: int = 3,
        fault_kill_on_key: str = "",
        weigh: Callable[[InT], int] | None = None,
    ) -> None:
        self.progress = progress
        self.weigh = weigh
        # Inputs decoded to be weighed (services/common/in_flight.py) and not yet handled: decoded once.
        self._decoded: dict[tuple[str, int, int], InT] = {}
        self.service = service
        self.input_topic = input_topic
        self.input_model = input_model
        self.step = step
        self.publisher = publisher
        self.topic_name = topic_name
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.payload_keeper = payload_keeper
        self.inline_payload_max_bytes = inline_payload_max_bytes
        self.guard = guard or DeadLetterGuard()
        self.ledger = ledger
        self.poison_pill_deaths = poison_pill_deaths
        # Fault injection for tests and the chaos harness only: SIGKILL this process when a message with
        # this key arrives (what an out-of-memory kill or a native crash in a decoder does). Empty = off.
        self.fault_kill_on_key = fault_kill_on_key.encode() if fault_kill_on_key else b""

    def weight(self, message: InboundMessage) -> int:
        """The scratch space this input declares (the service's `weigh`: bytes of files it will hold on disk);
        0 without a `weigh`, or for an input that does not decode — it is dead-lettered when handled."""
        if self.weigh is None:
            return 0
        try:
            event = decode_event(message.value, self.input_model, self.input_topic)
        except InvalidInput:
            return 0
        self._decoded[(message.topic, message.partition, message.offset)] = event
        return max(0, self.weigh(event))

    async def settle(
        self,
        message: InboundMessage,
        ack: Callable[[], Awaitable[Any]],
        alone: Callable[[], contextlib.AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        """One input, from the ledger's "started" to the acknowledgement: a message on which the worker
        already died `poison_pill_deaths` times is set aside unread, so the partition moves on.

        With several inputs in flight (services/common/in_flight.py), a death is recorded for each of them.
        An input the ledger shows was in flight at a death is therefore settled `alone` — its start undone
        while it waits for its turn — so that only a death it causes on its own counts against it."""
        if self.ledger is None:
            await self.handle(message)
            await ack()
            return
        ledger = self.ledger
        deaths = await self._begin(message)
        if 0 < deaths < self.poison_pill_deaths and alone is not None:
            await self.backoff.run(lambda: ledger.interrupted(message), service=self.service, what="record start")
            async with alone():
                deaths = await self._begin(message)
                await self._attempt(message, deaths)
        else:
            await self._attempt(message, deaths)
        await ack()
        await self.backoff.run(lambda: ledger.finish(message), service=self.service, what="record finish")

    async def _begin(self, message: InboundMessage) -> int:
        ledger = self.ledger
        assert ledger is not None
        return await self.backoff.run(lambda: ledger.begin(message), service=self.service, what="record start")

    async def _attempt(self, message: InboundMessage, deaths: int) -> None:
        """Handle the input — or, after `poison_pill_deaths` deaths on it, set it aside unread."""
        ledger = self.ledger
        assert ledger is not None
        if deaths >= self.poison_pill_deaths:
            log.error(
                "poison pill: the worker died on this message too often; setting it aside",
                extra={
                    "deaths": deaths,
                    "origin_topic": message.topic,
                    "origin_partition": message.partition,
                    "origin_offset": message.offset,
                },
            )
            await self.set_aside(message, deaths)
            await self.backoff.run(
                lambda: ledger.set_aside(message, service=self.service, deaths=deaths),
                service=self.service,
                what="record set-aside",
            )
            return
        if self.fault_kill_on_key and message.key == self.fault_kill_on_key:
            log.warning("fault injection: killing this worker on the message", extra={"key": message.key})
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            await self.handle(message)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # a graceful stop mid-step is no death
                await asyncio.wait_for(ledger.interrupted(message), timeout=2)
            raise

    async def handle(self, message: InboundMessage) -> None:
        metrics.MESSAGES_CONSUMED.labels(self.service, self.input_topic).inc()
        metrics.IN_FLIGHT.labels(self.service).inc()
        started = time.perf_counter()
        try:
            dead_lettered = await self._handle(message)
        except (asyncio.CancelledError, WorkerMustStop):
            raise
        except Exception as exc:
            # Nothing the runner can settle (a letter the broker refuses for good, a bug in the runner):
            # the input stays unacknowledged and the worker stops, never a silent ack.
            raise WorkerMustStop(
                f"{self.service} could not settle {message.topic}[{message.partition}]@{message.offset}: {exc!r}"
            ) from exc
        finally:
            metrics.IN_FLIGHT.labels(self.service).dec()
            metrics.STEP_DURATION.labels(self.service, self.input_topic).observe(time.perf_counter() - started)
        self.guard.record(dead_lettered)
        metrics.DEAD_LETTER_SHARE.labels(self.service).set(self.guard.share())
        if self.guard.tripped():
            metrics.GUARD_TRIPS.labels(self.service).inc()
            log.critical(
                "dead-letter guard tripped: stopping the worker",
                extra={
                    "share": round(self.guard.share(), 3),
                    "window": self.guard.window,
                    "max_share": self.guard.max_share,
                    "what_to_do": "most recent messages failed: look for a bad deploy or setting in the letters "
                    "(archivectl dlq list), fix it, then replay them (archivectl dlq replay)",
                },
            )
            raise WorkerMustStop(
                f"{self.service} dead-lettered {self.guard.share():.0%} of its last {self.guard.window} messages "
                f"(more than {self.guard.max_share:.0%})"
            )

    async def set_aside(self, message: InboundMessage, deaths: int) -> None:
        """Dead-letter a message on which the worker died `deaths` times (a poison pill), unread."""
        metrics.POISON_PILLS.labels(self.service).inc()
        await self._dead_letter(message, "PoisonPill", f"the worker died {deaths} times on this message")

    async def _handle(self, message: InboundMessage) -> bool:
        """Settle one input; True when it was dead-lettered."""
        try:
            event = self._decoded.pop((message.topic, message.partition, message.offset), None) or decode_event(
                message.value, self.input_model, self.input_topic
            )
        except InvalidInput as exc:
            await self._dead_letter(message, exc.kind, exc.reason)
            return True
        with case_context(correlation_id=event.correlationid, case_key=event.subject, event_id=event.id):
            progress = self.progress
            if progress is not None:
                await self._note(lambda: progress.started(self.service, self.input_topic, event))
            try:
                outputs = await self.backoff.run(lambda: self.step(event), service=self.service, what="step")
            except InvalidInput as exc:
                await self._dead_letter(message, exc.kind, exc.reason)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A bug or an input the rules did not foresee. Dead-letter it with the evidence rather
                # than kill the worker; the DLQ metric and log make it loud.
                log.exception("step failed unexpectedly; dead-lettering the message")
                await self._dead_letter(message, fault_name(exc), f"unexpected error in {self.service}: {exc!r}")
                return True
            for out in outputs:
                await self._publish(out.topic, out.key, encode_event(out.event))
            if progress is not None:
                await self._note(lambda: progress.handled(self.service, self.input_topic, event, outputs))
            log.info("handled", extra={"outputs": [o.topic for o in outputs]})
            return False

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
        payload = message.value or b""
        kept: ObjectRef | None = None
        if len(payload) > self.inline_payload_max_bytes:
            if self.payload_keeper is None:
                raise RuntimeError(
                    f"a {len(payload)}-byte input cannot travel inside its dead letter and no dead-letter bucket "
                    "is configured"
                )
            keeper = self.payload_keeper
            kept = await self.backoff.run(
                lambda: keeper.keep(dead_letter_object_key(message), payload),
                service=self.service,
                what="keep dead-letter payload",
            )
        if len(reason) > REASON_MAX_CHARS:
            reason = reason[:REASON_MAX_CHARS] + f" … ({len(reason) - REASON_MAX_CHARS} more characters)"
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
                payload_base64="" if kept else base64.b64encode(payload).decode("ascii"),
                failed_at=utc_now(),
                payload_object=kept,
                payload_bytes=len(payload),
                payload_sha256=hashlib.sha256(payload).hexdigest(),
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


def dead_letter_object_key(message: InboundMessage) -> str:
    """Where an oversized input is kept: one object per origin position, so a redelivery overwrites it."""
    return f"{message.topic}/{message.partition}/{message.offset}"
