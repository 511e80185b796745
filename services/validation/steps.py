"""The validation step: archive.captured → archive.validated, or archive.record.rejected with reasons."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from contracts.envelope import utc_now
from contracts.v1 import CapturedEvent, CapturedFile, CheckResult, RejectedCase, RejectionStage, ValidatedCase, topics
from services.common.adapters.object_store import ObjectMissing, ObjectStore
from services.common.events import follow_on
from services.common.faults import InvalidInput
from services.common.runner import Outbound
from services.validation.domain import Reread, check_file, failures

SERVICE = "validation"


async def _reread(store: ObjectStore, file: CapturedFile) -> Reread:
    try:
        data = await store.get_bytes(file.stored.bucket, file.stored.key)
    except ObjectMissing as exc:
        raise InvalidInput(f"captured file {exc} does not exist", kind="MissingObject") from exc
    return Reread(hashlib.sha256(data).hexdigest(), len(data))


async def validate_case(event: CapturedEvent, *, store: ObjectStore) -> Sequence[Outbound]:
    captured = event.data
    case_key = captured.case.case_key
    rereads = await asyncio.gather(*(_reread(store, file) for file in captured.files))
    results: list[CheckResult] = []
    for file, reread in zip(captured.files, rereads, strict=True):
        results.extend(check_file(file, reread))
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
