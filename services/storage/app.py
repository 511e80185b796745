"""The storage worker: binds storage's composition root (bootstrap.py) to archive.classified.v1 through the shared
runner, with the scheduled fixity audit beside it. Nothing is created at import: `python -m services.storage`
calls `create_app`."""

from __future__ import annotations

import faust

from contracts.v1 import ClassifiedEvent, topics
from services.common.stream_app import worker_app
from services.storage.bootstrap import build
from services.storage.config import StorageSettings
from services.storage.steps import SERVICE


def create_app(settings: StorageSettings) -> faust.App:
    return worker_app(
        SERVICE, settings, input_topic=topics.CLASSIFIED, input_model=ClassifiedEvent, build=lambda: build(settings)
    )
