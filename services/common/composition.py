"""What a service's composition root (`services/<name>/bootstrap.py`) hands to whoever runs it: the step,
its scheduled jobs and what to close at the end — and the one way a process opens the database.

A bootstrap's `build(settings, **overrides)` makes the real adapters for every port not given as an
override; the Faust binding (services/common/stream_app.py), the unit tests (with fakes) and the benches
all build a service that way, so there is one wiring per service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic

import asyncpg

from services.common.index.migrate import upgrade
from services.common.runner import InT, Publisher, Step
from services.common.settings import ArchiveSettings


@dataclass(frozen=True)
class ScheduledJob:
    """A job a worker runs every `interval_seconds` (after the first interval), through the runner's
    JobRunner (services/common/runner.py): transient faults retried with backoff, metrics per round."""

    name: str
    interval_seconds: float
    run: Callable[[Publisher], Awaitable[None]]


@dataclass
class Service(Generic[InT]):
    step: Step[InT]
    jobs: Sequence[ScheduledJob] = ()
    # The scratch space (bytes on local disk) one input will take, for the in-flight window's budget
    # (services/common/in_flight.py); None: the service keeps no files, only the count bounds it.
    weigh: Callable[[InT], int] | None = None
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


async def open_database(settings: ArchiveSettings, *, max_size: int) -> asyncpg.Pool:
    """The process's one pool, after the migrations — the one place a process migrates (alembic's upgrade
    is idempotent and takes a lock, so workers starting together are safe)."""
    await upgrade(settings)
    return await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=max_size)
