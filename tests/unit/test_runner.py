"""The shared step runner: what reaches the DLQ, what is retried, and that outputs precede the ack."""

import base64
import json

import pytest

from contracts.v1 import CapturedEvent, topics
from services.common.faults import InvalidInput
from services.common.runner import Backoff, InboundMessage, Outbound, StepRunner
from tests.factories import completed_event
from tests.fakes import RecordingPublisher

pytestmark = pytest.mark.unit


async def _no_sleep(_: float) -> None:
    return None


def _runner(step, publisher, input_model=None, input_topic=topics.APPROVAL_COMPLETED):  # type: ignore[no-untyped-def]
    from contracts.v1 import ApprovalCompletedEvent

    return StepRunner(
        service="test",
        input_topic=input_topic,
        input_model=input_model or ApprovalCompletedEvent,
        step=step,
        publisher=publisher,
        backoff=Backoff(0.01, 0.02, sleep=_no_sleep),
    )


def _message(value: bytes | None, offset: int = 7) -> InboundMessage:
    return InboundMessage(topics.APPROVAL_COMPLETED, 2, offset, b"case-key", value)


def _dead_letters(publisher: RecordingPublisher) -> list[dict]:
    return [json.loads(v) for t, _, v in publisher.sent if t == topics.DEAD_LETTER]


async def _never_called(event):  # type: ignore[no-untyped-def]
    raise AssertionError("the step must not see invalid input")


@pytest.mark.parametrize(
    ("payload", "error_type", "reason_fragment"),
    [
        (b"\xff\xfe not json", "NotJson", "not JSON"),
        (b"", "NotJson", "empty message"),
        (b"[1, 2, 3]", "NotCloudEvent", "top level is a JSON list"),
        (b'{"hello": "world"}', "NotCloudEvent", "missing attributes"),
    ],
)
async def test_garbage_goes_to_the_dead_letter_topic_with_origin_and_reason(payload, error_type, reason_fragment):
    publisher = RecordingPublisher()
    await _runner(_never_called, publisher).handle(_message(payload))
    [letter] = _dead_letters(publisher)
    assert letter["type"] == topics.DEAD_LETTER
    assert letter["data"]["error_type"] == error_type
    assert reason_fragment in letter["data"]["reason"]
    assert (letter["data"]["origin_topic"], letter["data"]["origin_partition"], letter["data"]["origin_offset"]) == (
        topics.APPROVAL_COMPLETED,
        2,
        7,
    )
    assert base64.b64decode(letter["data"]["payload_base64"]) == payload


async def test_valid_envelope_around_an_invalid_record_is_dead_lettered_naming_the_field():
    event = json.loads(completed_event().model_dump_json())
    event["data"]["materials"][0]["sha256"] = "not-a-digest"
    publisher = RecordingPublisher()
    await _runner(_never_called, publisher).handle(_message(json.dumps(event).encode()))
    [letter] = _dead_letters(publisher)
    assert letter["data"]["error_type"] == "InvalidRecord"
    assert "data.materials.0.sha256" in letter["data"]["reason"]


async def test_event_of_another_type_is_dead_lettered():
    event = json.loads(completed_event().model_dump_json())
    publisher = RecordingPublisher()
    await _runner(_never_called, publisher, input_model=CapturedEvent, input_topic=topics.CAPTURED).handle(
        _message(json.dumps(event).encode())
    )
    [letter] = _dead_letters(publisher)
    assert letter["data"]["error_type"] == "WrongEventType"


async def test_transient_faults_in_the_step_are_retried_until_they_pass():
    attempts = []

    async def flaky(event):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionRefusedError("minio down")
        return [Outbound(topics.CAPTURED, event)]

    publisher = RecordingPublisher()
    await _runner(flaky, publisher).handle(_message(completed_event().model_dump_json().encode()))
    assert len(attempts) == 4
    assert [t for t, _, _ in publisher.sent] == [topics.CAPTURED]


async def test_publishing_is_retried_and_handle_returns_only_after_delivery():
    publisher = RecordingPublisher(failures_before_success=3)

    async def step(event):  # type: ignore[no-untyped-def]
        return [Outbound(topics.CAPTURED, event), Outbound(topics.REJECTED, event)]

    await _runner(step, publisher).handle(_message(completed_event().model_dump_json().encode()))
    assert [t for t, _, _ in publisher.sent] == [topics.CAPTURED, topics.REJECTED]


async def test_invalid_input_raised_by_a_step_and_unexpected_errors_are_dead_lettered_not_raised():
    async def missing(event):  # type: ignore[no-untyped-def]
        raise InvalidInput("object x does not exist", kind="MissingObject")

    async def buggy(event):  # type: ignore[no-untyped-def]
        return {}["nope"]

    publisher = RecordingPublisher()
    raw = completed_event().model_dump_json().encode()
    await _runner(missing, publisher).handle(_message(raw, offset=1))
    await _runner(buggy, publisher).handle(_message(raw, offset=2))
    letters = _dead_letters(publisher)
    assert [d["data"]["error_type"] for d in letters] == ["MissingObject", "KeyError"]
    assert letters[0]["id"] != letters[1]["id"]


async def test_outputs_are_keyed_by_case_so_a_case_stays_on_one_partition():
    event = completed_event()
    publisher = RecordingPublisher()

    async def step(e):  # type: ignore[no-untyped-def]
        return [Outbound(topics.CAPTURED, e)]

    await _runner(step, publisher).handle(_message(event.model_dump_json().encode()))
    assert publisher.sent[0][1] == event.data.case_key.encode()


class RecordingJournal:
    """The runner's progress hook, recording what it was told; `broken`: every write fails."""

    def __init__(self, broken: Exception | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.broken = broken
        self.attempts = 0

    async def _write(self, *call: str) -> None:
        self.attempts += 1
        if self.broken is not None:
            raise self.broken
        self.calls.append(call)

    async def started(self, service, input_topic, event):  # type: ignore[no-untyped-def]
        await self._write("started", service, input_topic, event.subject)

    async def handled(self, service, input_topic, event, outputs):  # type: ignore[no-untyped-def]
        await self._write("handled", service, input_topic, *(o.topic for o in outputs))

    async def dead_lettered(self, letter):  # type: ignore[no-untyped-def]
        await self._write("dead_lettered", letter.data.service, letter.data.error_type, letter.subject)


def _journaled(step, publisher, journal):  # type: ignore[no-untyped-def]
    runner = _runner(step, publisher)
    runner.progress = journal
    return runner


async def test_the_progress_journal_hears_of_each_case_after_its_outputs_and_of_its_dead_letters():
    event = completed_event()
    journal = RecordingJournal()

    async def step(e):  # type: ignore[no-untyped-def]
        return [Outbound(topics.CAPTURED, e)]

    publisher = RecordingPublisher()
    await _journaled(step, publisher, journal).handle(_message(event.model_dump_json().encode()))
    assert journal.calls == [
        ("started", "test", topics.APPROVAL_COMPLETED, event.subject),
        ("handled", "test", topics.APPROVAL_COMPLETED, topics.CAPTURED),
    ]
    journal.calls.clear()
    await _journaled(_never_called, publisher, journal).handle(_message(b"not json"))
    assert journal.calls == [("dead_lettered", "test", "NotJson", "case-key")]


async def test_a_journal_that_fails_for_good_does_not_dead_letter_a_handled_case_and_a_transient_fault_is_retried():
    event = completed_event()

    async def step(e):  # type: ignore[no-untyped-def]
        return [Outbound(topics.CAPTURED, e)]

    publisher = RecordingPublisher()
    broken = RecordingJournal(broken=ValueError("a bug in the journal"))
    await _journaled(step, publisher, broken).handle(_message(event.model_dump_json().encode()))
    assert [t for t, _, _ in publisher.sent] == [topics.CAPTURED]  # no dead letter
    assert broken.attempts == 2  # started and handled, each tried once

    class Flaky(RecordingJournal):
        async def _write(self, *call: str) -> None:
            self.attempts += 1
            if self.attempts < 3:
                raise ConnectionRefusedError("postgres restarting")
            self.calls.append(call)

    flaky = Flaky()
    await _journaled(step, RecordingPublisher(), flaky).handle(_message(event.model_dump_json().encode()))
    assert [c[0] for c in flaky.calls] == ["started", "handled"]


class SizeLimitedPublisher(RecordingPublisher):
    """Refuses what Kafka refuses: a message over the topic's limit (not retriable)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        from aiokafka.errors import MessageSizeTooLargeError

        if len(value) > self.limit:
            raise MessageSizeTooLargeError(f"{len(value)} bytes > {self.limit}")
        await super().publish(topic, key, value)


class KeptPayloads:
    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    async def keep(self, key: str, data: bytes):  # type: ignore[no-untyped-def]
        from contracts.v1 import ObjectRef

        self.kept[key] = data
        return ObjectRef(bucket="dead-letters", key=key)


async def test_an_oversized_invalid_input_is_kept_in_the_object_store_and_referenced_from_its_letter():
    payload = b"\x00 not json " + b"x" * (3 * 1024 * 1024)  # a few MiB: base64 inside the letter is too big
    publisher, keeper = SizeLimitedPublisher(limit=1024 * 1024), KeptPayloads()
    runner = _runner(_never_called, publisher)
    runner.payload_keeper = keeper
    await runner.handle(_message(payload, offset=99))
    [letter] = _dead_letters(publisher)
    data = letter["data"]
    assert data["error_type"] == "NotJson"
    assert data["payload_base64"] == ""
    assert data["payload_object"] == {"bucket": "dead-letters", "key": f"{topics.APPROVAL_COMPLETED}/2/99"}
    assert keeper.kept[data["payload_object"]["key"]] == payload
    assert data["payload_bytes"] == len(payload)
    import hashlib

    assert data["payload_sha256"] == hashlib.sha256(payload).hexdigest()


async def test_a_letter_that_cannot_be_delivered_stops_the_worker_instead_of_being_swallowed():
    from services.common.runner import WorkerMustStop

    publisher = SizeLimitedPublisher(limit=10)  # every letter is refused, for good
    with pytest.raises(WorkerMustStop, match="could not settle"):
        await _runner(_never_called, publisher).handle(_message(b"not json"))


async def test_the_guard_stops_a_worker_that_dead_letters_most_of_its_recent_messages():
    from services.common.runner import DeadLetterGuard, WorkerMustStop

    async def step(event):  # type: ignore[no-untyped-def]
        return [Outbound(topics.CAPTURED, event)]

    publisher = RecordingPublisher()
    runner = _runner(step, publisher)
    runner.guard = DeadLetterGuard(window=10, max_share=0.5, min_messages=10)
    good = completed_event().model_dump_json().encode()
    # the sample feed's share of defects (3 in 30) and a burst of deliberate garbage never trip it
    for offset in range(30):
        await runner.handle(_message(b"garbage" if offset % 10 == 0 else good, offset=offset))
    for offset in range(30, 35):
        await runner.handle(_message(b"garbage", offset=offset))
    with pytest.raises(WorkerMustStop, match="dead-lettered 60% of its last 10 messages"):
        await runner.handle(_message(b"garbage", offset=35))


async def test_a_poison_pill_is_set_aside_with_the_number_of_deaths():
    publisher = RecordingPublisher()
    await _runner(_never_called, publisher).set_aside(_message(b'{"anything": 1}', offset=5), deaths=3)
    [letter] = _dead_letters(publisher)
    assert letter["data"]["error_type"] == "PoisonPill"
    assert letter["data"]["reason"] == "the worker died 3 times on this message"
    assert base64.b64decode(letter["data"]["payload_base64"]) == b'{"anything": 1}'


class InMemoryLedger:
    def __init__(self) -> None:
        self.starts: dict[tuple[str, int, int], int] = {}
        self.set_aside_rows: list[tuple[int, str, int]] = []

    async def begin(self, message):  # type: ignore[no-untyped-def]
        position = (message.topic, message.partition, message.offset)
        self.starts[position] = self.starts.get(position, 0) + 1
        return self.starts[position] - 1

    async def finish(self, message):  # type: ignore[no-untyped-def]
        self.starts.pop((message.topic, message.partition, message.offset), None)

    async def interrupted(self, message):  # type: ignore[no-untyped-def]
        self.starts[(message.topic, message.partition, message.offset)] -= 1

    async def set_aside(self, message, *, service, deaths):  # type: ignore[no-untyped-def]
        self.set_aside_rows.append((message.offset, service, deaths))


class WorkerDied(BaseException):
    """What the rest of the process sees of a SIGKILL: nothing after this point runs."""


async def test_a_message_that_killed_the_worker_three_times_is_set_aside_and_the_next_one_runs():
    ledger, publisher, acks = InMemoryLedger(), RecordingPublisher(), []

    async def dies_on_poison(event):  # type: ignore[no-untyped-def]
        if event.id == "poison":
            raise WorkerDied
        return [Outbound(topics.CAPTURED, event)]

    runner = _runner(dies_on_poison, publisher)
    runner.ledger = ledger
    poison = json.loads(completed_event().model_dump_json())
    poison["id"] = "poison"
    poison_message = _message(json.dumps(poison).encode(), offset=40)

    async def ack(offset: int) -> None:
        acks.append(offset)

    for _ in range(3):  # three workers in a row die on it; none acknowledges it
        with pytest.raises(WorkerDied):
            await runner.settle(poison_message, ack=lambda: ack(40))
    assert acks == [] and not _dead_letters(publisher)
    await runner.settle(poison_message, ack=lambda: ack(40))  # the fourth sets it aside
    await runner.settle(_message(completed_event().model_dump_json().encode(), offset=41), ack=lambda: ack(41))
    [letter] = _dead_letters(publisher)
    assert letter["data"]["reason"] == "the worker died 3 times on this message"
    assert letter["data"]["origin_offset"] == 40
    assert acks == [40, 41], "the partition moves on"
    assert ledger.set_aside_rows == [(40, "test", 3)]
    assert ledger.starts == {}, "acknowledged messages are cleared from the ledger"
    assert [t for t, _, _ in publisher.sent] == [topics.DEAD_LETTER, topics.CAPTURED]


async def test_a_graceful_stop_in_the_middle_of_a_step_is_not_counted_as_a_death():
    import asyncio

    ledger, publisher = InMemoryLedger(), RecordingPublisher()

    async def slow(event):  # type: ignore[no-untyped-def]
        await asyncio.sleep(10)
        return []

    runner = _runner(slow, publisher)
    runner.ledger = ledger
    message = _message(completed_event().model_dump_json().encode(), offset=3)
    for _ in range(5):
        task = asyncio.create_task(runner.settle(message, ack=lambda: asyncio.sleep(0)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await ledger.begin(message) == 0
