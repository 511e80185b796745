"""The validation worker: binds the validation step to archive.captured.v1 through the shared runner."""

from __future__ import annotations

from functools import partial

from contracts.v1 import CapturedEvent, topics
from services.common.adapters.clamav import ClamdClient
from services.common.adapters.object_store import MinioObjectStore
from services.common.adapters.quarantine import PgQuarantine
from services.common.stream_app import bind_step, make_app
from services.validation.config import ValidationSettings
from services.validation.rules import RuleBook
from services.validation.steps import SERVICE, validate_case

settings = ValidationSettings()
app = make_app(SERVICE, settings)


async def build_step():  # type: ignore[no-untyped-def]
    return partial(
        validate_case,
        store=MinioObjectStore.from_settings(settings),
        scanner=ClamdClient(settings.clamd_host, settings.clamd_port, timeout=settings.clamd_timeout_seconds),
        quarantine=await PgQuarantine.connect(settings),
        rules=RuleBook.load(settings.item_rules_file),
        on_scanner_down=settings.clamd_unavailable,
    )


bind_step(
    app,
    service=SERVICE,
    settings=settings,
    input_topic=topics.CAPTURED,
    input_model=CapturedEvent,
    build_step=build_step,
)
