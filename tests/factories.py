"""Small, explicit cases for unit tests (the realistic generator lives in samples/)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from contracts.v1 import ApprovalCompletedEvent, Stage, UnifiedApprovalRecord, topics
from services.common.china_time import CHINA_STANDARD_TIME


def material(
    content: bytes,
    *,
    name: str = "决定书.pdf",
    stage: Stage = Stage.RESULT,
    declared_sha256: str | None = None,
    declared_size: int | None = None,
) -> dict[str, Any]:
    return {
        "stage": stage.value,
        "material_name": "准予许可决定书",
        "file_name": name,
        "media_type": "application/pdf",
        "size": len(content) if declared_size is None else declared_size,
        "sha256": declared_sha256 or hashlib.sha256(content).hexdigest(),
        "content_base64": base64.b64encode(content).decode(),
    }


def record(
    case_number: str = "SCJG-2026-000001", materials: list[dict[str, Any]] | None = None, **overrides: Any
) -> UnifiedApprovalRecord:
    accepted = datetime(2026, 3, 2, 9, 30, tzinfo=CHINA_STANDARD_TIME)
    data: dict[str, Any] = {
        "source_platform": "market-regulation",
        "case_number": case_number,
        "revision": 1,
        "region_code": "330100",
        "item_code": "XK-SCJG-001",
        "item_name": "企业设立登记",
        "case_title": "杭州云栖科技有限公司设立登记",
        "applicant": {
            "name": "杭州云栖科技有限公司",
            "type": "organisation",
            "id_type": "uscc",
            "id_number": "91330100MA2B3C4D5E",
        },
        "legal_representative": "王芳",
        "department_code": "SCJG",
        "department_name": "杭州市市场监督管理局",
        "accepted_at": accepted.isoformat(),
        "completed_at": (accepted + timedelta(days=3)).isoformat(),
        "result": "approved",
        "certificate_number": "91330100MA2B3C4D5E",
        "process_records": [
            {"node": "受理", "actor": "李明", "action": "受理", "opinion": "材料齐全", "time": accepted.isoformat()},
        ],
        "materials": materials if materials is not None else [material(b"%PDF-1.7 decision")],
    }
    data.update(overrides)
    return UnifiedApprovalRecord.model_validate(data)


def completed_event(rec: UnifiedApprovalRecord | None = None, *, event_id: str | None = None) -> ApprovalCompletedEvent:
    rec = rec or record()
    return ApprovalCompletedEvent(
        id=event_id or str(uuid.uuid4()),
        source=f"urn:approval-platform:{rec.source_platform}",
        type=topics.APPROVAL_COMPLETED,
        time=rec.completed_at,
        subject=rec.case_key,
        correlationid=f"corr-{rec.case_number}",
        data=rec,
    )


# --- what a platform sends: the envelope with data in its dialect, signed -------------------------------

PLATFORM_SECRET = "test-secret-of-the-platform"


def platform_event(
    event: ApprovalCompletedEvent | None = None, *, secret: str = PLATFORM_SECRET, **overrides: Any
) -> Any:
    """`event` as its platform sends it on approval.completed.v1: JSON, signed with `secret`."""
    from archivectl.platforms import signed
    from contracts.v1.inbound import PlatformEvent

    document = json.loads((event or completed_event()).model_dump_json())
    document.update(overrides)
    return PlatformEvent.model_validate(signed(document, secret))
