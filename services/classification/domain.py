"""Pure classification rules: the retention schedule's decision (services/classification/schedule.py),
the series a case is numbered in, and the archival code (DA/T 22-2015)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.v1 import CaseMetadata, RetentionPeriod, SharingLevel
from services.classification.schedule import Rule, Schedule
from services.common.china_time import CHINA_STANDARD_TIME
from services.common.series import Series

_CODE_UNSAFE = re.compile(r"[^0-9A-Z]+")


@dataclass(frozen=True)
class Decision:
    """What classification decided for a case: by a schedule rule, or by a person in manual review."""

    category_code: str
    class_code: str
    retention: RetentionPeriod
    security_level: str
    sharing_level: SharingLevel
    rule_id: str
    schedule_version: str
    decided_by: str | None = None  # None: decided by the rule, automatically
    decided_at: datetime | None = None
    organisation_code: str | None = None  # a reviewer's override; None: from configuration

    def as_json(self) -> dict[str, str | None]:
        return {
            "rule_id": self.rule_id,
            "schedule_version": self.schedule_version,
            "category_code": self.category_code,
            "class_code": self.class_code,
            "retention": self.retention.value,
            "security_level": self.security_level,
            "sharing_level": self.sharing_level.value,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "organisation_code": self.organisation_code,
        }


MANUAL_RULE_ID = "manual"  # the rule id recorded when a person gave the values instead of picking a rule


def decision_from_rule(rule: Rule, schedule_version: str) -> Decision:
    return Decision(
        category_code=rule.category_code,
        class_code=rule.class_code,
        retention=rule.retention,
        security_level=rule.security_level,
        sharing_level=rule.sharing_level,
        rule_id=rule.id,
        schedule_version=schedule_version,
    )


def decide(case: CaseMetadata, schedule: Schedule) -> Decision | None:
    """The schedule's highest-priority matching rule, as a decision; None when no rule covers the case.

    A case digitised from paper (`case.legacy`) keeps the retention it was appraised with when it was
    filed on paper, as the import mapping file translates the old term into today's periods (长期 → D30,
    短期 → D10, 永久 → Y; docs/lifecycle.md): the rule gives its category, class, security and sharing.
    Appraisal at expiry, not the import, is where a retention is changed."""
    rule = schedule.evaluate(case)
    if rule is None:
        return None
    decision = decision_from_rule(rule, schedule.version)
    if case.legacy is not None:
        decision = replace(decision, retention=case.legacy.retention)
    return decision


def filing_year(case: CaseMetadata) -> int:
    """The year (in China time) the case was completed: the 年度 of its archival code."""
    return case.completed_at.astimezone(CHINA_STANDARD_TIME).year


@dataclass(frozen=True)
class OrganisationCodes:
    """Configuration: the organisation part of archival codes, per platform and per department."""

    platforms: Mapping[str, str]
    departments: Mapping[str, str]

    def lookup(self, case: CaseMetadata) -> str | None:
        """The configured code for the case's department or platform; None when neither is listed
        (classification then sends the case to manual review instead of inventing a code)."""
        code = self.departments.get(case.department_code) or self.platforms.get(case.source_platform)
        return clean_code(code) if code else None

    def for_case(self, case: CaseMetadata) -> str:
        code = self.lookup(case)
        if code is None:  # an unlisted platform: the initials of its name (market-regulation → MR)
            code = clean_code("".join(part[:1] for part in case.source_platform.split("-")))
        return code


def clean_code(code: str) -> str:
    return _CODE_UNSAFE.sub("", code.upper()) or "ORG"


def series_for(case: CaseMetadata, decision: Decision, fonds_code: str, organisations: OrganisationCodes) -> Series:
    return Series(
        fonds_code=fonds_code,
        category_code=decision.category_code,
        year=filing_year(case),
        retention=decision.retention.value,
        organisation_code=decision.organisation_code or organisations.for_case(case),
    )


def format_archival_code(series: Series, item_number: int) -> str:
    """DA/T 22-2015: 全宗号-门类代码·年度-保管期限代码-机构(问题)代码-件号, e.g. Z109-WS·2011-Y-BGS-0001."""
    if item_number < 1:
        raise ValueError("item numbers start at 1")
    return (
        f"{series.fonds_code}-{series.category_code}·{series.year}-{series.retention}-"
        f"{series.organisation_code}-{item_number:04d}"
    )
