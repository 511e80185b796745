"""A worker stopped in the middle of a message must not lose it: the offset is committed only after the
outputs are delivered, never on shutdown (Faust would ack in a `finally` — the runner acks by hand)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from archivectl import local_services
from archivectl.feed import publish_events
from archivectl.kafka_admin import ensure_topics
from archivectl.platforms import sample_platform_secrets, signed
from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_cases
from services.common.index.migrate import upgrade

pytestmark = pytest.mark.integration


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again at once: nothing listens there


async def _wait_for_log(path, text: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8", errors="replace"):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path.name} never said {text!r}")


async def test_a_message_in_retry_survives_a_restart_of_its_worker(prepared):
    settings = prepared.model_copy(update={"namespace": prepared.namespace + "-restart"})
    await ensure_topics(settings)
    await upgrade(settings)
    [case] = generate_cases(1, seed=6060, wrong_digest_every=None)
    secrets = await sample_platform_secrets(settings)
    env = {"AA_RETRY_INITIAL_SECONDS": "0.2", "AA_RETRY_MAX_SECONDS": "1"}
    offset = local_services.free_metrics_offset()
    dead = {**env, "AA_CLAMD_PORT": str(_dead_port())}  # clamd unreachable: validation waits and retries
    procs = local_services.start(
        settings.namespace, metrics_offset=offset, extra_env=dead, services=("capture", "validation")
    )
    validation_log = next(p.log_file for p in procs if p.name == "validation")
    try:
        await publish_events(settings, [signed(approval_completed_event(case), secrets[case.platform])])
        await _wait_for_log(validation_log, "transient fault, will retry", timeout=120)
        local_services.stop(settings.namespace, services=("validation",))  # stopped mid-retry
        local_services.start(settings.namespace, metrics_offset=offset, extra_env=env, services=("validation",))

        def validated(seen):  # type: ignore[no-untyped-def]
            return any(s.key == case.case_key for s in seen)

        _, complete = await read_topics(settings, [topics.VALIDATED, topics.REJECTED], done=validated, timeout=120)
        assert complete, "the case in retry when its worker stopped was lost"
    finally:
        local_services.stop(settings.namespace, services=("capture", "validation"))
