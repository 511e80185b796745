"""Pure classification rules. The walking skeleton has one default rule; the retention schedule
(versioned data with priorities and conditions) replaces it in the classification issue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from contracts.v1 import CaseMetadata, RetentionPeriod, SharingLevel
from services.common.series import Series

ARCHIVE_TIMEZONE = ZoneInfo("Asia/Shanghai")
_CODE_UNSAFE = re.compile(r"[^0-9A-Z]+")


@dataclass(frozen=True)
class Decision:
    category_code: str
    class_code: str
    retention: RetentionPeriod
    security_level: str
    sharing_level: SharingLevel
    rule_id: str
    schedule_version: str


# The placeholder rule: administrative licensing (行政许可, XK), kept 30 years, conditionally shared.
DEFAULT_DECISION = Decision(
    category_code="XK",
    class_code="XK",
    retention=RetentionPeriod.THIRTY_YEARS,
    security_level="公开",
    sharing_level=SharingLevel.CONDITIONAL,
    rule_id="default",
    schedule_version="0-default",
)


def decide(case: CaseMetadata) -> Decision:
    return DEFAULT_DECISION


def filing_year(case: CaseMetadata) -> int:
    """The year (in China time) the case was completed: the 年度 of its archival code."""
    return case.completed_at.astimezone(ARCHIVE_TIMEZONE).year


@dataclass(frozen=True)
class OrganisationCodes:
    """Configuration: the organisation part of archival codes, per platform and per department."""

    platforms: Mapping[str, str]
    departments: Mapping[str, str]

    def for_case(self, case: CaseMetadata) -> str:
        code = self.departments.get(case.department_code) or self.platforms.get(case.source_platform)
        if code is None:  # an unlisted platform: the initials of its name (market-regulation → MR)
            code = "".join(part[:1] for part in case.source_platform.split("-"))
        return _CODE_UNSAFE.sub("", code.upper()) or "ORG"


def series_for(case: CaseMetadata, decision: Decision, fonds_code: str, organisations: OrganisationCodes) -> Series:
    return Series(
        fonds_code=fonds_code,
        category_code=decision.category_code,
        year=filing_year(case),
        retention=decision.retention.value,
        organisation_code=organisations.for_case(case),
    )


def format_archival_code(series: Series, item_number: int) -> str:
    """DA/T 22-2015: 全宗号-门类代码·年度-保管期限代码-机构(问题)代码-件号, e.g. Z109-WS·2011-Y-BGS-0001."""
    if item_number < 1:
        raise ValueError("item numbers start at 1")
    return (
        f"{series.fonds_code}-{series.category_code}·{series.year}-{series.retention}-"
        f"{series.organisation_code}-{item_number:04d}"
    )
