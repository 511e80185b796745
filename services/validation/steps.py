"""The validation step: archive.captured → archive.validated, or archive.record.rejected with reasons."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from contracts.envelope import utc_now
from contracts.v1 import CapturedEvent, CheckResult, RejectedCase, RejectionStage, ValidatedCase, topics
from services.common.adapters.object_store import ObjectStore
from services.common.events import follow_on
from services.common.faults import InvalidInput
from services.common.runner import Outbound
from services.validation.domain import Reread, check_file, failures

SERVICE = "validation"


async def validate_case(event: CapturedEvent, *, store: ObjectStore) -> Sequence[Outbound]:
    captured = event.data
    case_key = captured.case.case_key
    results: list[CheckResult] = []
    for file in captured.files:
        if await store.stat(file.stored.bucket, file.stored.key) is None:
            raise InvalidInput(
                f"captured file {file.stored.bucket}/{file.stored.key} does not exist", kind="MissingObject"
            )
        data = await store.get_bytes(file.stored.bucket, file.stored.key)
        results.extend(check_file(file, Reread(hashlib.sha256(data).hexdigest(), len(data))))
    failed = failures(results)
    if failed:
        rejected = RejectedCase(
            case=captured.case.identity(),
            case_title=captured.case.case_title,
            stage=RejectionStage.VALIDATION,
            failures=failed,
            rejected_at=utc_now(),
        )
        return [follow_on(event, topics.REJECTED, rejected, service=SERVICE, case_key=case_key)]
    validated = ValidatedCase(case=captured.case, files=captured.files, checks=results, validated_at=utc_now())
    return [follow_on(event, topics.VALIDATED, validated, service=SERVICE, case_key=case_key)]
