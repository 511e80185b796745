"""The classification worker: binds classification's composition root (bootstrap.py) to archive.validated.v1
through the shared runner. Nothing is created at import: `python -m services.classification` calls `create_app`."""

from __future__ import annotations

import faust

from contracts.v1 import ValidatedEvent, topics
from services.classification.bootstrap import build
from services.classification.config import ClassificationSettings
from services.classification.steps import SERVICE
from services.common.stream_app import worker_app


def create_app(settings: ClassificationSettings) -> faust.App:
    return worker_app(
        SERVICE, settings, input_topic=topics.VALIDATED, input_model=ValidatedEvent, build=lambda: build(settings)
    )
