"""The validation worker: binds validation's composition root (bootstrap.py) to archive.captured.v1 through the
shared runner. Nothing is created at import: `python -m services.validation` calls `create_app`."""

from __future__ import annotations

import faust

from contracts.v1 import CapturedEvent, topics
from services.common.stream_app import worker_app
from services.validation.bootstrap import build
from services.validation.config import ValidationSettings
from services.validation.steps import SERVICE


def create_app(settings: ValidationSettings) -> faust.App:
    return worker_app(
        SERVICE, settings, input_topic=topics.CAPTURED, input_model=CapturedEvent, build=lambda: build(settings)
    )
