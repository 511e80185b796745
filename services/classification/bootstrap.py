"""Classification's composition root: the classification store (PostgreSQL) unless one is passed in, the
bundled retention schedule installed when none is in force, and the step."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from contracts.v1 import ValidatedEvent
from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.config import ClassificationSettings
from services.classification.domain import OrganisationCodes
from services.classification.ports import ClassificationStore, ScheduleSource
from services.classification.schedule import load_schedule_file
from services.classification.steps import ActiveSchedule, classify_case, install_schedule
from services.common.composition import Service, open_database

log = logging.getLogger(__name__)


async def build(
    settings: ClassificationSettings,
    *,
    store: ClassificationStore | None = None,
    schedules: ScheduleSource | None = None,
    organisations: OrganisationCodes | None = None,
) -> Service[ValidatedEvent]:
    """With `store` (a fake in unit tests), give `schedules` too: the store then need not keep versions."""
    closers: list[Callable[[], Awaitable[Any]]] = []
    if store is None:
        pool = await open_database(settings, max_size=4)
        closers.append(pool.close)
        pg_store = PgClassificationStore(pool)
        try:
            if not await pg_store.has_active_schedule():
                path = settings.bootstrap_schedule_file()
                schedule = load_schedule_file(path)
                await install_schedule(pg_store, schedule, source_file=path.name, loaded_by="bootstrap")
                log.info(
                    "no retention schedule was in force; loaded the bundled one", extra={"version": schedule.version}
                )
        except BaseException:
            await pool.close()  # start-up is retried on a transient fault: the next attempt opens its own pool
            raise
        store, schedules = pg_store, schedules or ActiveSchedule(pg_store)
    if schedules is None:
        raise ValueError("a classification store was given without a schedule source (`schedules=`)")
    step = partial(
        classify_case,
        schedules=schedules,
        store=store,
        fonds_code=settings.fonds_code,
        organisations=organisations or settings.organisation_codes(),
    )
    return Service(step, closers=closers)
