"""The capture worker: binds capture's composition root (bootstrap.py) to approval.completed.v1 through the shared
runner. Nothing is created at import: `python -m services.capture` calls `create_app`."""

from __future__ import annotations

import faust

from contracts.v1 import topics
from contracts.v1.inbound import PlatformEvent
from services.capture.bootstrap import build
from services.capture.config import CaptureSettings
from services.capture.steps import SERVICE
from services.common.stream_app import worker_app


def create_app(settings: CaptureSettings) -> faust.App:
    return worker_app(
        SERVICE,
        settings,
        input_topic=topics.APPROVAL_COMPLETED,
        input_model=PlatformEvent,
        build=lambda: build(settings),
    )
