"""The classification worker: binds the classification step to archive.validated.v1."""

from __future__ import annotations

import logging
from functools import partial

from contracts.v1 import ValidatedEvent, topics
from services.classification.config import ClassificationSettings
from services.classification.schedule import load_schedule_file
from services.classification.steps import SERVICE, ActiveSchedule, classify_case, install_schedule
from services.common.adapters.schedule_store import PgClassificationStore
from services.common.stream_app import bind_step, make_app

log = logging.getLogger(__name__)
settings = ClassificationSettings()
app = make_app(SERVICE, settings)


async def build_step():  # type: ignore[no-untyped-def]
    store = await PgClassificationStore.connect(settings)
    if not await store.has_active_schedule():
        path = settings.bootstrap_schedule_file()
        schedule = load_schedule_file(path)
        await install_schedule(store, schedule, source_file=path.name, loaded_by="bootstrap")
        log.info("no retention schedule was in force; loaded the bundled one", extra={"version": schedule.version})
    return partial(
        classify_case,
        schedules=ActiveSchedule(store),
        store=store,
        fonds_code=settings.fonds_code,
        organisations=settings.organisation_codes(),
    )


bind_step(
    app,
    service=SERVICE,
    settings=settings,
    input_topic=topics.VALIDATED,
    input_model=ValidatedEvent,
    build_step=build_step,
)
