"""What a sample platform decides about a case, and what the common assembly does with it.

A platform module (samples/platforms/) turns a `CaseContext` — the region, department, serial number,
result and acceptance day the assembly drew, and the case's `rng` — into a `Draft`: item, applicant,
process steps, the application form's fields and the result document's text. The assembly
(samples/generator.py) adds the times, renders the files (samples/case_files.py) and builds the record.
Each platform module describes itself with one `SamplePlatform`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from contracts.v1.record import Applicant, CaseResult
from samples.departments import Department
from samples.documents import PAGE_BREAK
from samples.identifiers import Region


@dataclass
class Step:
    """A process step as the platform records it, before the assembly gives it a time and an actor."""

    node: str
    role: str
    action: str
    opinion: str
    days: tuple[int, int]  # business days after the previous step


@dataclass
class Draft:
    """Everything a platform builder decides; the common code adds times, documents and materials."""

    item_code: str
    item_name: str
    item_version: str
    case_title: str
    applicant: Applicant
    legal_representative: str | None
    steps: list[Step]  # acceptance and review; the decision steps follow from the case's result
    approve: Step
    issue: Step | None
    refuse_reason: str  # why a refused case was refused, ends with "，"
    form_title: str
    form_fields: list[tuple[str, str]]
    form_signer: str
    scan_material: str
    scan_needs_seal: bool
    result_title: str
    result_doc_number: str | None
    result_lines: list[str]
    certificate_number: str | None
    result_material: str | None = None
    review_sheet: bool = False  # add a process-stage review sheet (审查意见表)


@dataclass
class CaseContext:
    """What the assembly drew for a case before its platform decides the rest (with the same `rng`)."""

    rng: random.Random
    region: Region
    department: Department
    serial: int  # the case's number within its platform: 1, 2, ...
    year: int
    result: CaseResult
    accepted_day: date


@dataclass(frozen=True)
class SamplePlatform:
    """One sample approval platform: its id, how its case numbers and department read, and its builder."""

    platform_id: str
    case_prefix: str  # case numbers read <case_prefix>-<year>-<serial>: SCJG-2026-000001
    department_suffix: str  # its department in a city is named <city><department_suffix>
    build: Callable[[CaseContext], Draft]
    partially_approves: bool = False  # some of its cases are partially approved


NOTICE_LINES = (
    "本许可证（决定书）应妥善保管，不得涂改、出租、出借或者以其他形式非法转让。",
    "许可事项发生变更的，应当依法向原许可机关申请办理变更手续。",
    "被许可人应当在许可范围内从事相关活动，并自觉接受许可机关的监督检查。",
    "有效期届满需要延续的，应当在有效期届满三十日前向原许可机关提出申请。",
    "被许可人以欺骗、贿赂等不正当手段取得许可的，许可机关将依法予以撤销。",
    "本决定书（许可证）可通过政务服务网扫码核验真伪。",
    "如对本决定不服，可以自收到本决定之日起六十日内申请行政复议，或者在六个月内依法提起行政诉讼。",
    "证件遗失的，应当及时公告作废并申请补领。",
)


def result_closing(lines: list[str], *, long: bool) -> list[str]:
    """Append the usual notices; a `long` document gets a second page with all of them."""
    if not long:
        return [*lines, "", "　　" + NOTICE_LINES[6]]
    notices = [f"　　{k}. {text}" for k, text in enumerate(NOTICE_LINES, start=1)]
    return [*lines, PAGE_BREAK, "附：注意事项", *notices]


def decision_steps(result: CaseResult, draft: Draft) -> list[Step]:
    """Review and decision steps for the case's result, after the builder's acceptance step."""
    accept, review = draft.steps[0], draft.steps[1]
    if result is CaseResult.REFUSED:
        review = replace(review, opinion=f"经审查，{draft.refuse_reason}不符合法定条件，建议不予许可。")
        return [
            accept,
            review,
            Step("决定", "分管负责人", "不予许可", "同意审查意见，不予许可。", (1, 3)),
            Step("送达", "综合受理窗口", "送达决定书", "已送达《不予行政许可决定书》。", (0, 2)),
        ]
    if result is CaseResult.WITHDRAWN:
        review = replace(review, opinion="审查中。申请人提交书面撤回申请，转终止审查程序。")
        return [
            accept,
            review,
            Step("撤回", "综合受理窗口", "申请人撤回申请", "申请人书面申请撤回，申请材料原件已退回。", (0, 2)),
            Step("终止", "分管负责人", "终止审查", f"同意终止{draft.item_name}申请的审查。", (0, 1)),
        ]
    return [accept, review, draft.approve, *([draft.issue] if draft.issue else [])]
