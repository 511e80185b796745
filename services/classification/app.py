"""The classification worker: binds the classification step to archive.validated.v1."""

from __future__ import annotations

from functools import partial

from contracts.v1 import ValidatedEvent, topics
from services.classification.config import ClassificationSettings
from services.classification.steps import SERVICE, classify_case
from services.common.adapters.index import PgIndex
from services.common.stream_app import bind_step, make_app

settings = ClassificationSettings()
app = make_app(SERVICE, settings)


async def build_step():  # type: ignore[no-untyped-def]
    index = await PgIndex.connect(settings)
    return partial(
        classify_case, codes=index, fonds_code=settings.fonds_code, organisations=settings.organisation_codes()
    )


bind_step(
    app,
    service=SERVICE,
    settings=settings,
    input_topic=topics.VALIDATED,
    input_model=ValidatedEvent,
    build_step=build_step,
)
