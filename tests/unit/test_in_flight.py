"""Several inputs in flight per worker (services/common/in_flight.py): different cases overlap, one case's
inputs keep their order, and offsets are acknowledged in order — never past an input still in flight."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.v1 import CapturedEvent, topics
from services.common.in_flight import Admission, InFlight
from services.common.runner import Backoff, InboundMessage, StepRunner, WorkerMustStop
from tests.fakes import RecordingPublisher

pytestmark = pytest.mark.unit


class Harness:
    """A settle that waits until the test releases each offset, and records acks and overlaps."""

    def __init__(self, *, fail_on: set[int] | None = None) -> None:
        self.release: dict[tuple[int, int], asyncio.Event] = defaultdict(asyncio.Event)
        self.acked: list[tuple[int, int]] = []
        self.started: list[tuple[int, int]] = []
        self.settled: list[tuple[int, int]] = []
        self.running = 0
        self.most_running = 0
        self.running_keys: set[bytes | None] = set()
        self.overlap_of_one_key = False
        self.fail_on = fail_on or set()
        self.stops: list[WorkerMustStop] = []

    async def settle(self, message: InboundMessage, ack, alone=None) -> None:  # type: ignore[no-untyped-def]
        position = (message.partition, message.offset)
        self.started.append(position)
        if message.key in self.running_keys:
            self.overlap_of_one_key = True
        self.running_keys.add(message.key)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.release[position].wait()
            if message.offset in self.fail_on:
                raise WorkerMustStop(f"cannot settle {position}")
            self.settled.append(position)
            await ack()
        finally:
            self.running -= 1
            self.running_keys.discard(message.key)

    def ack_of(self, position: tuple[int, int]):  # type: ignore[no-untyped-def]
        async def ack() -> None:
            self.acked.append(position)

        return ack

    async def on_stop(self, exc: WorkerMustStop) -> None:
        self.stops.append(exc)

    def window(self, limit: int = 4, budget: int = 1 << 30) -> InFlight:
        return InFlight(self.settle, limit=limit, budget_bytes=budget, on_stop=self.on_stop)


def _message(offset: int, key: bytes | None, partition: int = 0) -> InboundMessage:
    return InboundMessage("input", partition, offset, key, b"{}")


async def _settle_a_moment() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_later_input_settled_first_is_acknowledged_only_after_the_earlier_ones():
    h = Harness()
    window = h.window()
    for offset in range(3):
        await window.submit(_message(offset, f"case-{offset}".encode()), h.ack_of((0, offset)))
    await _settle_a_moment()
    assert h.most_running == 3  # three different cases overlap
    h.release[(0, 2)].set()
    h.release[(0, 1)].set()
    await _settle_a_moment()
    assert h.settled == [(0, 2), (0, 1)]
    assert h.acked == []  # offset 0 is still in flight: committing 1 or 2 would pass it
    h.release[(0, 0)].set()
    await window.wait_all()
    assert h.acked == [(0, 0), (0, 1), (0, 2)]


async def test_one_cases_inputs_are_settled_one_after_the_other_in_arrival_order():
    h = Harness()
    window = h.window()
    for offset in range(3):
        await window.submit(_message(offset, b"the-same-case"), h.ack_of((0, offset)))
    await _settle_a_moment()
    assert h.started == [(0, 0)]  # the others wait for it
    for offset in (2, 1, 0):
        h.release[(0, offset)].set()
    await window.wait_all()
    assert h.started == h.settled == [(0, 0), (0, 1), (0, 2)]
    assert not h.overlap_of_one_key


async def test_partitions_are_acknowledged_independently():
    h = Harness()
    window = h.window()
    await window.submit(_message(0, b"slow", partition=0), h.ack_of((0, 0)))
    await window.submit(_message(0, b"fast", partition=1), h.ack_of((1, 0)))
    h.release[(1, 0)].set()
    await _settle_a_moment()
    assert h.acked == [(1, 0)]
    h.release[(0, 0)].set()
    await window.wait_all()
    assert h.acked == [(1, 0), (0, 0)]


async def test_the_consumer_waits_when_the_window_is_full():
    h = Harness()
    window = h.window(limit=2)
    await window.submit(_message(0, b"a"), h.ack_of((0, 0)))
    await window.submit(_message(1, b"b"), h.ack_of((0, 1)))
    third = asyncio.create_task(window.submit(_message(2, b"c"), h.ack_of((0, 2))))
    await _settle_a_moment()
    assert not third.done() and window.count == 2
    h.release[(0, 1)].set()
    await _settle_a_moment()
    assert third.done() and window.count == 2
    for offset in (0, 2):
        h.release[(0, offset)].set()
    await window.wait_all()
    assert h.most_running == 2 and window.count == 0


async def test_declared_scratch_space_is_bounded_and_a_heavier_input_runs_alone():
    h = Harness()
    window = h.window(limit=8, budget=512)
    await window.submit(_message(0, b"a"), h.ack_of((0, 0)), weight=300)
    second = asyncio.create_task(window.submit(_message(1, b"b"), h.ack_of((0, 1)), weight=300))
    await _settle_a_moment()
    assert not second.done()  # 600 > 512
    h.release[(0, 0)].set()
    await second
    heavy = asyncio.create_task(window.submit(_message(2, b"c"), h.ack_of((0, 2)), weight=5000))
    await _settle_a_moment()
    assert not heavy.done()  # heavier than the budget: it waits to run alone
    h.release[(0, 1)].set()
    await heavy
    light = asyncio.create_task(window.submit(_message(3, b"d"), h.ack_of((0, 3)), weight=1))
    await _settle_a_moment()
    assert not light.done()  # nothing joins the heavy one
    h.release[(0, 2)].set()
    await light
    h.release[(0, 3)].set()
    await window.wait_all()
    assert h.acked == [(0, 0), (0, 1), (0, 2), (0, 3)]


async def test_an_input_that_cannot_be_settled_stops_the_worker_and_nothing_after_it_is_acknowledged():
    h = Harness(fail_on={1})
    window = h.window()
    for offset in range(3):
        await window.submit(_message(offset, f"case-{offset}".encode()), h.ack_of((0, offset)))
    h.release[(0, 0)].set()
    await _settle_a_moment()
    h.release[(0, 2)].set()
    h.release[(0, 1)].set()
    await window.wait_all()
    assert len(h.stops) == 1 and window.stopped is h.stops[0]
    assert h.acked == [(0, 0)]  # 1 failed; 2 was settled but acknowledging it would commit past 1


async def test_inputs_after_a_stop_are_not_settled():
    h = Harness(fail_on={0})
    window = h.window()
    await window.submit(_message(0, b"case"), h.ack_of((0, 0)))
    await window.submit(_message(1, b"case"), h.ack_of((0, 1)))  # the same case: waits for 0
    h.release[(0, 0)].set()
    h.release[(0, 1)].set()
    await window.wait_all()
    assert h.started == [(0, 0)] and h.acked == []


async def test_a_runner_exception_other_than_worker_must_stop_also_stops_the_worker():
    stops: list[WorkerMustStop] = []

    async def broken(message, ack, alone):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in the runner")

    async def on_stop(exc: WorkerMustStop) -> None:
        stops.append(exc)

    window = InFlight(broken, limit=2, budget_bytes=0, on_stop=on_stop)
    await window.submit(_message(5, b"k"), lambda: asyncio.sleep(0))
    await window.wait_all()
    assert len(stops) == 1 and "a bug in the runner" in str(stops[0])


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4)), min_size=1, max_size=25),
    seed=st.integers(0, 2**32 - 1),
    limit=st.integers(1, 5),
)
def test_whatever_the_completion_order_acks_follow_offsets_and_each_case_keeps_its_order(arrivals, seed, limit):
    """Random cases on random partitions, settled in a random order: per partition the acks are the
    offsets in order, each after its input settled; per case the inputs were settled in arrival order."""

    async def scenario() -> None:
        h = Harness()
        window = h.window(limit=limit)
        rng = random.Random(seed)
        next_offset: dict[int, int] = defaultdict(int)
        expected_by_key: dict[bytes, list[tuple[int, int]]] = defaultdict(list)

        async def releaser() -> None:
            while True:
                waiting = [p for p in h.started if p not in h.settled and not h.release[p].is_set()]
                if waiting:
                    h.release[rng.choice(waiting)].set()
                await asyncio.sleep(0)

        releasing = asyncio.create_task(releaser())
        for partition, case in arrivals:
            offset = next_offset[partition]
            next_offset[partition] += 1
            # a case lives on one partition (its key decides it)
            key = f"case-{case}-p{partition}".encode()
            expected_by_key[key].append((partition, offset))
            await window.submit(_message(offset, key, partition), h.ack_of((partition, offset)))
        await window.wait_all()
        releasing.cancel()
        for partition, count in next_offset.items():
            assert [o for p, o in h.acked if p == partition] == list(range(count))
        for positions in expected_by_key.values():
            assert [p for p in h.settled if p in positions] == positions
        assert not h.overlap_of_one_key and h.most_running <= limit

    asyncio.run(scenario())


async def test_an_admission_bounds_the_summed_weight_of_its_holders():
    admission = Admission(budget=100)
    async with admission.hold(60):
        second = asyncio.create_task(admission.acquire(60))
        await _settle_a_moment()
        assert not second.done()
    await second
    assert admission.count == 1 and admission.weight == 60
    await admission.release(60)
    assert admission.count == 0 and admission.weight == 0


async def test_an_admission_lets_waiters_in_in_the_order_they_came_so_a_heavy_one_is_not_starved():
    """Light holders that keep coming back (validation's measurements of the other cases in flight) must not
    overtake a heavy one waiting to hold alone: it gets in as soon as those ahead of it are done."""
    admission = Admission(budget=100, limit=2)
    stop = asyncio.Event()
    heavy_in = asyncio.Event()

    async def light() -> None:
        while not stop.is_set():
            async with admission.hold(30):
                await asyncio.sleep(0)

    async def heavy() -> None:
        async with admission.hold(101):  # over the budget: only alone
            heavy_in.set()

    lights = [asyncio.create_task(light()) for _ in range(3)]
    await _settle_a_moment()
    waiting = asyncio.create_task(heavy())
    try:
        await asyncio.wait_for(heavy_in.wait(), timeout=2)
    finally:
        stop.set()
        await asyncio.gather(*lights, waiting)
    assert admission.count == 0 and admission.weight == 0


async def test_a_waiter_cancelled_in_line_lets_the_next_one_in():
    admission = Admission(budget=100)
    await admission.acquire(60)
    first = asyncio.create_task(admission.acquire(60))
    second = asyncio.create_task(admission.acquire(30))
    await _settle_a_moment()
    assert not first.done() and not second.done()  # the 30 fits, but waits behind the 60
    first.cancel()
    await _settle_a_moment()
    assert second.done() and admission.count == 2 and admission.weight == 90


async def test_the_runner_weighs_an_input_by_its_service_and_decodes_it_only_once(monkeypatch):
    from services.common import runner as runner_module
    from tests.factories import record
    from tests.fakes import InMemoryObjectStore
    from tests.unit.test_checks_corpus import captured_event

    decoded = 0
    real_decode = runner_module.decode_event

    def counting_decode(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal decoded
        decoded += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(runner_module, "decode_event", counting_decode)

    async def step(event):  # type: ignore[no-untyped-def]
        return []

    runner = StepRunner(
        service="validation",
        input_topic=topics.CAPTURED,
        input_model=CapturedEvent,
        step=step,
        publisher=RecordingPublisher(),
        backoff=Backoff(0.01, 0.02),
        weigh=lambda event: max(f.size for f in event.data.files),
    )
    event = await captured_event(record(), InMemoryObjectStore())
    message = InboundMessage(topics.CAPTURED, 0, 3, b"k", event.model_dump_json().encode())
    assert runner.weight(message) == max(f.size for f in event.data.files) > 0
    await runner.handle(message)
    assert decoded == 1
    assert runner.weight(InboundMessage(topics.CAPTURED, 0, 4, b"k", b"not json")) == 0


class DyingLedger:
    """The poison-pill ledger in memory, kept across simulated worker lifetimes; when the worker "dies" it
    stops taking writes, as PostgreSQL hears nothing more from a SIGKILLed process."""

    def __init__(self) -> None:
        self.starts: dict[int, int] = {}
        self.dead = False

    async def begin(self, message):  # type: ignore[no-untyped-def]
        if self.dead:
            raise WorkerDied
        self.starts[message.offset] = self.starts.get(message.offset, 0) + 1
        return self.starts[message.offset] - 1

    async def finish(self, message):  # type: ignore[no-untyped-def]
        if not self.dead:
            self.starts.pop(message.offset, None)

    async def interrupted(self, message):  # type: ignore[no-untyped-def]
        if not self.dead:
            self.starts[message.offset] -= 1

    async def set_aside(self, message, *, service, deaths):  # type: ignore[no-untyped-def]
        pass


class WorkerDied(BaseException):
    """What the rest of the process sees of a SIGKILL: nothing after this point runs."""


@pytest.mark.parametrize("limit", [1, 2, 4, 8])
def test_a_worker_killed_by_one_input_again_and_again_sets_aside_only_that_input(limit):
    """Worker lifetimes, each redelivering from the committed offset, with a poison input among innocent
    ones in flight: every death is recorded for all of them, yet only the poison is set aside — the others
    are archived — because a suspect is settled alone."""
    from contracts.v1 import ApprovalCompletedEvent
    from tests.factories import completed_event

    ledger, publisher = DyingLedger(), RecordingPublisher()
    events = [completed_event(event_id="poison" if n == 2 else f"case-{n}") for n in range(8)]
    committed = 0
    handled: set[str] = set()

    async def step(event):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.001 * (hash(event.id) % 5))
        if event.id == "poison":
            ledger.dead = True
            raise WorkerDied
        if ledger.dead:
            raise WorkerDied
        handled.add(event.id)
        return []

    async def lifetime() -> bool:
        nonlocal committed
        ledger.dead = False
        runner = StepRunner(
            service="capture",
            input_topic=topics.APPROVAL_COMPLETED,
            input_model=ApprovalCompletedEvent,
            step=step,
            publisher=publisher,
            backoff=Backoff(0.01, 0.02),
            ledger=ledger,
            poison_pill_deaths=3,
        )

        async def on_stop(exc: WorkerMustStop) -> None:
            raise AssertionError(f"nothing here must stop the worker: {exc}")

        window = InFlight(runner.settle, limit=limit, budget_bytes=0, on_stop=on_stop)

        def ack_of(offset: int):  # type: ignore[no-untyped-def]
            async def ack() -> None:
                nonlocal committed
                if not ledger.dead:
                    committed = offset + 1

            return ack

        for offset in range(committed, len(events)):
            if ledger.dead:
                break
            value = events[offset].model_dump_json().encode()
            await window.submit(InboundMessage("in", 0, offset, f"key-{offset}".encode(), value), ack_of(offset))
        with contextlib.suppress(WorkerDied):
            await window.wait_all()
        return not ledger.dead

    for _ in range(12):
        if asyncio.run(lifetime()):
            break
    else:
        raise AssertionError("the worker never got past the poison input")
    letters = [json.loads(v)["data"] for t, _, v in publisher.sent if t == topics.DEAD_LETTER]
    assert [(letter["origin_offset"], letter["error_type"]) for letter in letters] == [(2, "PoisonPill")]
    assert handled == {e.id for e in events} - {"poison"} and committed == len(events)
