"""The capture worker: binds the capture step to approval.completed.v1 through the shared runner."""

from __future__ import annotations

from functools import partial

from contracts.v1 import ApprovalCompletedEvent, topics
from services.capture.config import CaptureSettings
from services.capture.steps import SERVICE, capture_case
from services.common.adapters.object_store import MinioObjectStore
from services.common.stream_app import bind_step, make_app

settings = CaptureSettings()
app = make_app(SERVICE, settings)


async def build_step():  # type: ignore[no-untyped-def]
    store = MinioObjectStore.from_settings(settings)
    await store.ensure_bucket(settings.staging_bucket)
    return partial(capture_case, store=store, staging_bucket=settings.staging_bucket)


bind_step(
    app,
    service=SERVICE,
    settings=settings,
    input_topic=topics.APPROVAL_COMPLETED,
    input_model=ApprovalCompletedEvent,
    build_step=build_step,
)
