"""The capture step: approval.completed → files in the staging bucket → archive.captured (or rejected)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contracts.envelope import utc_now
from contracts.v1 import (
    ApprovalCompletedEvent,
    CapturedCase,
    CapturedFile,
    CheckResult,
    ObjectRef,
    RejectedCase,
    RejectionStage,
    topics,
)
from services.capture.domain import Content, decode_inline, neutralise_file_name, staging_key, url_not_supported
from services.common.adapters.object_store import ObjectStore
from services.common.events import follow_on
from services.common.runner import Outbound

SERVICE = "capture"


async def capture_case(event: ApprovalCompletedEvent, *, store: ObjectStore, staging_bucket: str) -> Sequence[Outbound]:
    record = event.data
    case_key = record.case_key
    contents: list[Content] = []
    failures: list[CheckResult] = []
    for material in record.materials:
        content = decode_inline(material) if material.content_base64 is not None else url_not_supported(material)
        if isinstance(content, CheckResult):
            failures.append(content)
        else:
            contents.append(content)
    if failures:  # nothing is staged for a case that goes back to its platform
        rejected = RejectedCase(
            case=record.identity(),
            case_title=record.case_title,
            stage=RejectionStage.CAPTURE,
            failures=failures,
            rejected_at=utc_now(),
        )
        return [follow_on(event, topics.REJECTED, rejected, service=SERVICE, case_key=case_key)]

    await store.ensure_bucket(staging_bucket)
    keys = [staging_key(case_key, index, content.sha256) for index, content in enumerate(contents)]
    # A redelivered case finds its objects already there (same key, same content): nothing to redo.
    present = await store.list_keys(staging_bucket, case_key + "/")
    await asyncio.gather(
        *(
            store.put_bytes(
                staging_bucket,
                key,
                content.data,
                content_type=material.media_type,
                metadata={"sha256": content.sha256, "case-key": case_key},
            )
            for key, content, material in zip(keys, contents, record.materials, strict=True)
            if key not in present
        )
    )
    files = [
        CapturedFile(
            stage=material.stage,
            material_name=material.material_name,
            file_name=neutralise_file_name(material.file_name, fallback=f"file-{index:03d}"),
            original_file_name=material.file_name,
            media_type=material.media_type,
            declared_size=material.size,
            declared_sha256=material.sha256,
            declared_page_count=material.page_count,
            size=len(content.data),
            sha256=content.sha256,
            stored=ObjectRef(bucket=staging_bucket, key=key),
        )
        for index, (key, content, material) in enumerate(zip(keys, contents, record.materials, strict=True))
    ]
    captured = CapturedCase(case=record.metadata(), files=files, source_event_id=event.id, captured_at=utc_now())
    return [follow_on(event, topics.CAPTURED, captured, service=SERVICE, case_key=case_key)]
