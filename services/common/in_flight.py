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
* **A death is blamed on its own input only.** A worker that dies (SIGKILL, out of memory, a native crash
  in a decoder) takes every input in flight down with it, and the poison-pill ledger records a start
  without a finish for each. An input that was in flight at a death is a suspect: the runner settles it
  `alone()`, with nothing else in flight, so that a further death is its own. An innocent input is then
  blamed for at most the one death it shared, and only the input that kills a worker on its own reaches
  the K deaths that set it aside (docs/reliability.md).
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
# How the runner asks to settle an input with nothing else in flight (a suspect: see `InFlight.alone`).
Alone = Callable[[], contextlib.AbstractAsyncContextManager[None]]
Settle = Callable[[InboundMessage, Ack, Alone], Awaitable[None]]


@dataclass
class _Pending:
    offset: int
    ack: Ack
    settled: bool = False


class Admission:
    """At most `limit` holders at once and at most `budget` of their summed weight; a holder heavier than
    the budget waits until it can hold alone (so the heaviest single input still goes through). Waiters are
    admitted in the order they came. A weight is what the holder keeps while it holds — local disk for the
    in-flight window's inputs and capture's spooled files, memory for validation's measurements — so the
    total stays within max(budget, heaviest)."""

    def __init__(self, budget: int, limit: int | None = None) -> None:
        self.budget, self.limit = budget, limit
        self.count = 0
        self.weight = 0
        self._changed = asyncio.Condition()
        # Waiters in the order they came: only the first may be admitted. Without the line, light holders
        # that keep coming back (the measurements of the other cases in flight) overtake a heavy one that
        # needs the admission to itself, for as long as they keep coming.
        self._line: deque[object] = deque()

    def _admits(self, weight: int) -> bool:
        if self.count == 0:
            return True
        return (self.limit is None or self.count < self.limit) and self.weight + weight <= self.budget

    async def acquire(self, weight: int) -> None:
        ticket = object()
        async with self._changed:
            self._line.append(ticket)
            try:
                await self._changed.wait_for(lambda: self._line[0] is ticket and self._admits(weight))
            finally:  # admitted or cancelled: out of the line, and the next one may fit now
                self._line.remove(ticket)
                self._changed.notify_all()
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
        # Inputs inside `settle` now, and the gate a suspect closes to be alone (see `alone`).
        self._running = 0
        self._gate_closed = False
        self._solo = asyncio.Lock()
        self._running_changed = asyncio.Condition()

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
                async with self._running_changed:
                    await self._running_changed.wait_for(lambda: not self._gate_closed)
                    self._running += 1
                try:
                    await self._settle(message, lambda: self._acknowledge(message, pending), self.alone)
                finally:
                    async with self._running_changed:
                        self._running -= 1
                        self._running_changed.notify_all()
        except WorkerMustStop as exc:
            await self._stop(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the runner settles everything it can; anything else stops the worker
            await self._stop(WorkerMustStop(f"settling {message.topic}[{message.partition}]@{message.offset}: {exc!r}"))
        finally:
            await self._admitted.release(weight)

    @contextlib.asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        """Called by a settling input: wait until nothing else is being settled, keep others from starting,
        and let the caller settle alone. Suspects take turns; one waiting for its turn does not count as
        running, so two suspects never wait for each other."""
        changed = self._running_changed
        async with changed:
            self._running -= 1
            changed.notify_all()
        counted = False
        try:
            async with self._solo:
                async with changed:
                    self._gate_closed = True
                    await changed.wait_for(lambda: self._running == 0)
                    self._running += 1
                    counted = True
                try:
                    yield
                finally:
                    async with changed:
                        self._gate_closed = False
                        changed.notify_all()
        finally:
            if not counted:  # interrupted while waiting for its turn: counted as running again, as it came in
                async with changed:
                    self._running += 1

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
