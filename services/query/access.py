"""Who may do what with the archive: roles, permissions and scopes, as data and pure functions.

docs/access.md is the readable form of this module, and tests/integration/test_query_access_matrix.py
checks every role × endpoint × sharing level against it. The rules:

- A **permission** names an endpoint family (search, read a record, download a file, …). A role either
  has it or gets 403.
- A **scope** narrows what a permitted caller sees: departments (empty = all), sharing levels, the
  highest security level, and — for a platform — its own platform only. A record outside the scope is
  answered as if it did not exist (404), so a scope does not leak which records exist.
- **Personal data**: ID numbers are masked in lists, details, exports, logs and the audit log unless the
  role may see them (`Disclosure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.v1.record import ApplicantType, IdType


class Role(StrEnum):
    OPERATOR = "operator"  # the archive centre's operations team: dashboards, exception queues
    AUDITOR = "auditor"  # the archive centre's auditors: everything read-only, the audit log
    SUPERVISION = "supervision"  # 事中事后监管 systems: find records, download what is shared with them
    PLATFORM = "platform"  # an approval platform: its own records and its own rejected cases
    APPROVER = "approver"  # who authorises destruction at expiry (档案鉴定 / 销毁审批): the second person


class Permission(StrEnum):
    RECORDS_SEARCH = "records.search"  # search, and export of the search as CSV
    RECORDS_READ = "records.read"  # one record with its files, checks and preservation history
    FILES_DOWNLOAD = "files.download"  # a file's bytes, digest-verified on the way out
    QUEUES_READ = "queues.read"  # the quarantine and manual-review queues
    CASES_STATUS = "cases.status"  # what became of a platform's case: every revision, every step
    QUEUES_ACT = "queues.act"  # resolve a quarantine entry, decide a manual review
    STATS_READ = "stats.read"  # statistics per day, platform, department, defect
    DASHBOARD_READ = "dashboard.read"  # the operations dashboard and its data
    AUDIT_READ = "audit.read"  # the audit log and its verification
    DOCS_READ = "docs.read"  # the OpenAPI description at /docs and /openapi.json
    DISPOSITION_READ = "disposition.read"  # records due for disposition, proposals, legal holds
    DISPOSITION_DECIDE = "disposition.decide"  # decide extend / keep / propose destruction; set, lift holds
    DISPOSITION_APPROVE = "disposition.approve"  # approve a destruction proposed by another key


class Disclosure(StrEnum):
    """How much of an applicant's ID number a role sees."""

    FULL = "full"
    ORGANISATIONS = "organisations"  # unified social credit codes are public (企业信息公示); persons masked
    MASKED = "masked"


@dataclass(frozen=True)
class RolePolicy:
    permissions: frozenset[Permission]
    disclosure: Disclosure
    # Sharing levels the role may ever be granted; a key is granted a subset (docs/access.md).
    grantable_sharing: frozenset[str]
    own_platform_only: bool = False


ALL_SHARING = frozenset({"01", "02", "03"})

POLICY: Mapping[Role, RolePolicy] = {
    Role.OPERATOR: RolePolicy(
        permissions=frozenset(
            {
                Permission.RECORDS_SEARCH,
                Permission.RECORDS_READ,
                Permission.QUEUES_READ,
                Permission.QUEUES_ACT,
                Permission.CASES_STATUS,
                Permission.STATS_READ,
                Permission.DASHBOARD_READ,
                Permission.DOCS_READ,
                Permission.DISPOSITION_READ,
                Permission.DISPOSITION_DECIDE,
            }
        ),
        disclosure=Disclosure.MASKED,
        grantable_sharing=ALL_SHARING,
    ),
    Role.AUDITOR: RolePolicy(
        permissions=frozenset(
            {
                Permission.RECORDS_SEARCH,
                Permission.RECORDS_READ,
                Permission.FILES_DOWNLOAD,
                Permission.QUEUES_READ,
                Permission.CASES_STATUS,
                Permission.STATS_READ,
                Permission.DASHBOARD_READ,
                Permission.AUDIT_READ,
                Permission.DOCS_READ,
                Permission.DISPOSITION_READ,
            }
        ),
        disclosure=Disclosure.FULL,
        grantable_sharing=ALL_SHARING,
    ),
    Role.SUPERVISION: RolePolicy(
        permissions=frozenset(
            {Permission.RECORDS_SEARCH, Permission.RECORDS_READ, Permission.FILES_DOWNLOAD, Permission.DOCS_READ}
        ),
        disclosure=Disclosure.ORGANISATIONS,
        # 03 (不予共享) is never shared outside the archive centre; 02 (有条件共享) needs an agreement,
        # recorded by granting it on the key.
        grantable_sharing=frozenset({"01", "02"}),
    ),
    Role.PLATFORM: RolePolicy(
        permissions=frozenset(
            {
                Permission.RECORDS_SEARCH,
                Permission.RECORDS_READ,
                Permission.FILES_DOWNLOAD,
                Permission.QUEUES_READ,
                Permission.CASES_STATUS,
                Permission.DOCS_READ,
            }
        ),
        disclosure=Disclosure.MASKED,
        # A platform produced its cases: all sharing levels of its own records, nothing of others'.
        grantable_sharing=ALL_SHARING,
        own_platform_only=True,
    ),
    # Approves destructions that an operator proposed (two persons: services/storage/disposition.py). It
    # reads the records it is asked to approve; it downloads nothing and works no queue.
    Role.APPROVER: RolePolicy(
        permissions=frozenset(
            {
                Permission.RECORDS_SEARCH,
                Permission.RECORDS_READ,
                Permission.DISPOSITION_READ,
                Permission.DISPOSITION_APPROVE,
                Permission.DOCS_READ,
            }
        ),
        disclosure=Disclosure.MASKED,
        grantable_sharing=ALL_SHARING,
    ),
}

# Security classifications in ascending order. Records above 内部 should not reach this system at all
# (state secrets are kept apart); the order is still total so that a key's ceiling is meaningful.
SECURITY_LEVELS: tuple[str, ...] = ("公开", "内部", "秘密", "机密", "绝密")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: who, in which role, within which scope."""

    key_id: str
    name: str
    role: Role
    sharing_levels: frozenset[str]
    max_security: str = "内部"
    departments: frozenset[str] = field(default_factory=frozenset)  # empty: every department
    platform_id: str | None = None  # set for (and only for) the platform role

    @property
    def policy(self) -> RolePolicy:
        return POLICY[self.role]

    def may(self, permission: Permission) -> bool:
        return permission in self.policy.permissions

    @property
    def security_levels(self) -> tuple[str, ...]:
        """The security levels this caller may see (up to and including `max_security`)."""
        return SECURITY_LEVELS[: SECURITY_LEVELS.index(self.max_security) + 1]


class ScopeError(ValueError):
    """A key asked for a scope its role cannot have (e.g. sharing level 03 for a supervision system)."""


def check_grant(role: Role, sharing_levels: frozenset[str], max_security: str, platform_id: str | None) -> None:
    """Refuse a key whose scope its role may not have; the message says what to change."""
    policy = POLICY[role]
    extra = sharing_levels - policy.grantable_sharing
    if extra:
        raise ScopeError(
            f"role {role} cannot be granted sharing level(s) {', '.join(sorted(extra))}; "
            f"it may have {', '.join(sorted(policy.grantable_sharing))}"
        )
    if not sharing_levels:
        raise ScopeError("a key needs at least one sharing level")
    if max_security not in SECURITY_LEVELS:
        raise ScopeError(f"unknown security level {max_security!r}; one of {', '.join(SECURITY_LEVELS)}")
    if policy.own_platform_only != (platform_id is not None):
        raise ScopeError(
            "a platform key names its platform (--platform), and only a platform key does"
            if policy.own_platform_only
            else f"role {role} is not tied to a platform; drop --platform"
        )


def in_scope(caller: Caller, record: Mapping[str, Any]) -> bool:
    """Whether `record` (a row with source_platform, department_code, sharing_level, security_level) is
    visible to `caller`. The SQL filter in services/query/search.py says the same; a test keeps them equal."""
    if caller.policy.own_platform_only and record["source_platform"] != caller.platform_id:
        return False
    if caller.departments and record["department_code"] not in caller.departments:
        return False
    if record["sharing_level"] not in caller.sharing_levels:
        return False
    return record["security_level"] in caller.security_levels


def mask_id_number(value: str) -> str:
    """Keep the first 3 and last 2 characters (enough to tell two people apart in a list, not enough to
    identify one): 110101199003071234 → 110*************34."""
    if len(value) <= 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def disclose_id(caller: Caller, id_number: str, id_type: str | None, applicant_type: str | None = None) -> str:
    """The applicant ID number as this caller may see it."""
    disclosure = caller.policy.disclosure
    if disclosure is Disclosure.FULL:
        return id_number
    if disclosure is Disclosure.ORGANISATIONS and _is_organisation(id_type, applicant_type):
        return id_number
    return mask_id_number(id_number)


def _is_organisation(id_type: str | None, applicant_type: str | None) -> bool:
    # Only a unified social credit code held by an organisation is public; an organisation identified
    # otherwise (a passport of a sole trader) is treated as a person.
    return id_type == IdType.USCC and applicant_type == ApplicantType.ORGANISATION


def console_caller(name: str) -> Caller:
    """The archive centre's operator at the console (`archivectl index search`): whoever can run archivectl
    reaches the database directly anyway, so the search shows every record, at every level."""
    return Caller(
        key_id="archivectl", name=name, role=Role.AUDITOR, sharing_levels=ALL_SHARING, max_security=SECURITY_LEVELS[-1]
    )
