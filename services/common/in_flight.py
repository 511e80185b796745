"""Several inputs in flight in one worker (issue 18): while one case waits on MinIO, PostgreSQL, clamd or
the broker, the worker gets on with the next — without giving up any of the runner's guarantees.

* **Per-case order.** Inputs with the same Kafka key (the case key: every event of a case shares it) are
  settled one after the other, in the order they arrived; only different cases overlap. That is what one
  worker per partition gave before, and what the write-once archive and the case-number claim rely on.
* **Offsets committed in order.** Each input is acknowledged only after it is settled (its outputs
  delivered, or its dead letter), *and* only after every earlier input of its partition was acknowledged.
  Faust commits the highest contiguous offset it was told of from the first acked one — it does not know
  of an earlier offset still in flight — so acknowledging out of order could commit past an input never
  handled. Here a crash at any moment redelivers from the oldest unsettled input; what was settled after
  it is redelivered too, and redelivery changes nothing (idempotent steps, derived event ids).
* **Bounded.** At most `limit` inputs at once, and at most `budget_bytes` of their declared weight (the
  scratch space their files take: a service's `weigh`); an input heavier than the budget waits until it
  can run alone, so a worker's scratch disk stays within max(budget, its heaviest single case). When the
  window is full the consumer loop waits in `submit`: backpressure, not buffering.
* **A stop stops everything.** When an input cannot be settled (`WorkerMustStop`), `on_stop` is called
  (stream_app exits the process) and nothing after it is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from services.common.runner import InboundMessage, WorkerMustStop

log = logging.getLogger(__name__)

Ack = Callable[[], Awaitable[Any]]
Settle = Callable[[InboundMessage, Ack], Awaitable[None]]


@dataclass
class _Pending:
    offset: int
    ack: Ack
    settled: bool = False


class Admission:
    """At most `limit` holders at once and at most `budget` of their summed weight; a holder heavier than
    the budget waits until it can hold alone (so the heaviest single input still goes through). A weight
    is what the holder keeps on local disk; the worker's scratch space stays within max(budget, heaviest).
    Used by the in-flight window for whole inputs and by steps for the files they spool."""

    def __init__(self, budget: int, limit: int | None = None) -> None:
        self.budget, self.limit = budget, limit
        self.count = 0
        self.weight = 0
        self._changed = asyncio.Condition()

    def _admits(self, weight: int) -> bool:
        if self.count == 0:
            return True
        return (self.limit is None or self.count < self.limit) and self.weight + weight <= self.budget

    async def acquire(self, weight: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._admits(weight))
            self.count += 1
            self.weight += weight

    async def release(self, weight: int) -> None:
        async with self._changed:
            self.count -= 1
            self.weight -= weight
            self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def hold(self, weight: int) -> AsyncIterator[None]:
        await self.acquire(weight)
        try:
            yield
        finally:
            await self.release(weight)


class InFlight:
    def __init__(
        self,
        settle: Settle,
        *,
        limit: int,
        budget_bytes: int,
        on_stop: Callable[[WorkerMustStop], Awaitable[None]],
    ) -> None:
        if limit < 1:
            raise ValueError(f"at least one input must be allowed in flight, not {limit}")
        self._settle = settle
        self._on_stop = on_stop
        self._admitted = Admission(budget_bytes, limit)
        self._tails: dict[Hashable, asyncio.Task[None]] = {}  # the last input of each key, still running
        self._partitions: dict[tuple[str, int], deque[_Pending]] = {}
        self._ack_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopped: WorkerMustStop | None = None

    @property
    def count(self) -> int:
        """Inputs admitted and not yet settled (for the stall watchdog: a step is in flight)."""
        return self._admitted.count

    async def submit(self, message: InboundMessage, ack: Ack, *, weight: int = 0) -> asyncio.Task[None]:
        """Admit one input — waiting while the window is full — and start settling it. Returns its task."""
        await self._admitted.acquire(weight)
        pending = _Pending(message.offset, ack)
        self._partitions.setdefault((message.topic, message.partition), deque()).append(pending)
        key: Hashable = message.key
        before = self._tails.get(key)
        task = asyncio.create_task(self._run(message, pending, before, weight), name=f"settle@{message.offset}")
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._forget_tail(key, done))
        return task

    async def wait_all(self) -> None:
        """Until every admitted input is settled (or the window stopped)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _forget_tail(self, key: Hashable, done: asyncio.Task[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    async def _run(
        self, message: InboundMessage, pending: _Pending, before: asyncio.Task[None] | None, weight: int
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait({before})  # the same case's earlier input first, whatever became of it
            if self.stopped is None:
                await self._settle(message, lambda: self._acknowledge(message, pending))
        except WorkerMustStop as exc:
            await self._stop(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the runner settles everything it can; anything else stops the worker
            await self._stop(WorkerMustStop(f"settling {message.topic}[{message.partition}]@{message.offset}: {exc!r}"))
        finally:
            await self._admitted.release(weight)

    async def _stop(self, exc: WorkerMustStop) -> None:
        if self.stopped is None:
            self.stopped = exc
        await self._on_stop(exc)

    async def _acknowledge(self, message: InboundMessage, pending: _Pending) -> None:
        """Mark this input settled and acknowledge, in offset order, every settled input at the head of its
        partition — never one behind an input still in flight."""
        pending.settled = True
        queue = self._partitions[(message.topic, message.partition)]
        async with self._ack_lock:
            while queue and queue[0].settled and self.stopped is None:
                await queue.popleft().ack()
