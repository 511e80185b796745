"""Deterministic sample approval cases, as three approval platforms would send them.

`generate_cases(count, seed)` returns completed cases in the unified approval record (contracts v1),
rotating over the platforms `market-regulation` (市场监管局: business registration),
`construction-permit` (住房和城乡建设局: construction permits) and `transport` (交通运输局: road transport
licences) — one module each in samples/platforms/. Every case carries its files inline: an application
form (PDF), a scanned page (JPEG), a decision or licence (PDF) and, for construction permits, a review
sheet (process stage, PDF) — see samples/case_files.py.

Determinism: case `i` depends only on `(seed, i)`, so `generate_cases(10)` is a prefix of
`generate_cases(2000)`, and the same arguments give byte-identical records on every run
(tests/unit/test_samples.py holds the digest of a reference set).

`approval_completed_event(case)` wraps a record in the CloudEvents envelope of `approval.completed.v1`;
`event_json(case)` is that event as a platform puts it on Kafka (what `archivectl feed` publishes).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from contracts.v1 import topics
from contracts.v1.record import CaseResult, ProcessRecord, UnifiedApprovalRecord
from samples.case_files import render_files, to_materials
from samples.dates import SHANGHAI, advance, business_day
from samples.departments import department
from samples.drafts import CaseContext, SamplePlatform, Step, decision_steps
from samples.identifiers import REGIONS
from samples.names import person_name
from samples.platforms import PLATFORMS, SAMPLE_PLATFORMS

__all__ = [
    "DEFAULT_SEED",
    "PLATFORMS",
    "WRONG_DIGEST",
    "SampleCase",
    "approval_completed_event",
    "event_json",
    "generate_cases",
]

DEFAULT_SEED = 20261125
WRONG_DIGEST = "wrong_digest"

# Namespace of the sample platforms' own ids (event ids and correlation ids they would assign).
_SAMPLES_NAMESPACE = uuid.UUID("0b8e6f1c-7d3a-4e52-a1c9-2f6d8b4e9a07")


@dataclass(frozen=True)
class SampleCase:
    """One generated case: the record the platform sends, and the defect planted in it (if any)."""

    record: UnifiedApprovalRecord
    defect: str | None
    platform: str
    defective_material: str | None = field(default=None, compare=False)  # file_name of the planted defect

    @property
    def case_key(self) -> str:
        return self.record.case_key


# --- assembly ------------------------------------------------------------------------------------------


def _result_for(rng: random.Random, platform: SamplePlatform) -> CaseResult:
    roll = rng.random()
    if roll < 0.06:
        return CaseResult.REFUSED
    if roll < 0.09:
        return CaseResult.WITHDRAWN
    if platform.partially_approves and roll < 0.15:
        return CaseResult.PARTIALLY_APPROVED
    return CaseResult.APPROVED


def _process_records(rng: random.Random, accepted_at: datetime, steps: list[Step]) -> list[ProcessRecord]:
    """One record per step, strictly after acceptance and after each other, in working hours."""
    records: list[ProcessRecord] = []
    moment = accepted_at
    for step in steps:
        if step.days == (0, 0):
            moment = moment + timedelta(minutes=rng.randint(3, 40), seconds=rng.randint(0, 59))
        else:
            moment = advance(moment, rng, step.days)
        records.append(
            ProcessRecord(
                node=step.node,
                actor=f"{person_name(rng)}（{step.role}）",
                action=step.action,
                opinion=step.opinion,
                time=moment,
            )
        )
    return records


def _build_case(seed: int, index: int, wrong_digest_every: int | None) -> SampleCase:
    platform = SAMPLE_PLATFORMS[index % len(SAMPLE_PLATFORMS)]
    rng = random.Random(f"case:{seed}:{index}")
    serial = index // len(SAMPLE_PLATFORMS) + 1
    region = rng.choice(REGIONS)
    office = department(platform.platform_id, platform.department_suffix, region.code)
    start = date(2026, 1, 5)
    accepted_day = business_day(start + timedelta(days=rng.randrange(310)))
    accepted_at = datetime.combine(
        accepted_day, time(rng.randint(9, 15), rng.randint(0, 59), rng.randint(0, 59)), SHANGHAI
    )
    ctx = CaseContext(
        rng=rng,
        region=region,
        department=office,
        serial=serial,
        year=accepted_day.year,
        result=_result_for(rng, platform),
        accepted_day=accepted_day,
    )
    draft = platform.build(ctx)
    case_number = f"{platform.case_prefix}-{accepted_day.year}-{serial:06d}"

    # Completion strictly after the last process record.
    records = _process_records(rng, accepted_at, decision_steps(ctx.result, draft))
    completed_at = records[-1].time + timedelta(minutes=rng.randint(5, 60), seconds=rng.randint(0, 59))
    files = render_files(
        ctx,
        draft,
        seed=seed,
        case_number=case_number,
        accepted_at=accepted_at,
        records=records,
        completed_at=completed_at,
    )

    # One declared digest planted wrong on every `wrong_digest_every`-th case.
    defect: str | None = None
    defective: int | None = None
    if wrong_digest_every and (index + 1) % wrong_digest_every == 0:
        defect = WRONG_DIGEST
        defective = rng.randrange(len(files))

    record = UnifiedApprovalRecord(
        source_platform=platform.platform_id,
        case_number=case_number,
        revision=1,
        region_code=region.code,
        item_code=draft.item_code,
        item_name=draft.item_name,
        item_version=draft.item_version,
        case_title=draft.case_title,
        applicant=draft.applicant,
        legal_representative=draft.legal_representative,
        department_code=office.code,
        department_name=office.name,
        accepted_at=accepted_at,
        completed_at=completed_at,
        result=ctx.result,
        certificate_number=draft.certificate_number,
        process_records=records,
        materials=to_materials(files, altered=defective),
    )
    return SampleCase(
        record=record,
        defect=defect,
        platform=platform.platform_id,
        defective_material=files[defective].file_name if defective is not None else None,
    )


def generate_cases(count: int, seed: int = DEFAULT_SEED, wrong_digest_every: int | None = 10) -> list[SampleCase]:
    """`count` completed cases, rotating over `PLATFORMS`; deterministic in `(seed, index)`.

    Every `wrong_digest_every`-th case (the 10th, 20th, ... by default; `None` or 0 for none) declares a
    wrong SHA-256 for one of its materials and is marked `defect="wrong_digest"`. Case numbers
    (`SCJG-2026-000001`, `ZJJS-...`, `JTYS-...`) are unique per platform.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    return [_build_case(seed, i, wrong_digest_every) for i in range(count)]


def generate_case(index: int, seed: int = DEFAULT_SEED, wrong_digest_every: int | None = 10) -> SampleCase:
    """Case number `index` of `generate_cases(…, seed, wrong_digest_every)`, alone: a long feed can build
    each case just before it is sent instead of all of them first."""
    return _build_case(seed, index, wrong_digest_every)


# --- the event ----------------------------------------------------------------------------------------


def approval_completed_event(case: SampleCase, *, event_id: str | None = None) -> dict[str, Any]:
    """The case as a CloudEvents 1.0 structured-mode `approval.completed.v1` event, a JSON-ready dict.

    The id and correlation id are derived from platform and case number (the id also from the revision),
    so regenerating a case yields the same event; pass `event_id` to simulate a platform re-sending.
    """
    record = case.record
    identity = f"{record.source_platform}|{record.case_number}"
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid5(_SAMPLES_NAMESPACE, f"event|{identity}|r{record.revision}")),
        "source": f"urn:approval-platform:{record.source_platform}",
        "type": topics.APPROVAL_COMPLETED,
        "time": record.completed_at.isoformat(),
        "datacontenttype": "application/json",
        "subject": record.case_key,
        "correlationid": str(uuid.uuid5(_SAMPLES_NAMESPACE, f"correlation|{identity}")),
        "data": record.model_dump(mode="json"),
    }


def event_json(case: SampleCase, *, event_id: str | None = None) -> bytes:
    """The event as the UTF-8 JSON a platform would put on Kafka (compact, Chinese left unescaped)."""
    event = approval_completed_event(case, event_id=event_id)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
