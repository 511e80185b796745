"""Disposition rules (pure): when a record's retention period ends, which decision may be taken on it, the
two-person rule for destruction, and legal holds (docs/lifecycle.md, "Disposition").

- **Expiry**: the retention period starts at the case's completion (`completed_at`, 办结时间) — the same
  start the package's COMPLIANCE lock is reckoned from (services/storage/domain.py `retention_lock`) — and
  ends that many years later (29 February + N years → 28 February). `Y` (永久) never ends. A decision to
  extend replaces the period (a longer `D<N>` counted from the same start); "keep permanently" makes it `Y`.
- **Due**: a record is due for appraisal once its (effective) period has ended at `now`.
- **Decisions**: extend (a new, longer period that ends after now), keep permanently, or destroy — each
  with a reason, each only on a due record. Destroy is a proposal; it needs an approval.
- **Two persons**: the approver's key differs from the proposer's, is not the proposer's name under
  another key, and holds the approving role (`APPROVING_ROLE`).
- **Holds**: a record under an active legal hold cannot be proposed, approved or executed for destruction.
- **Execution**: an approved destruction of a record still due, not held, whose package lock has run out.
  Once it starts deleting (`executing`), no hold can be set and a stopped execution is finished by the
  next run: a version deleted cannot be held back any more.

Every check raises `DispositionRefused` with what is wrong; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

PERMANENT = "Y"
APPROVING_ROLE = "approver"
_FIXED_TERM = re.compile(r"^D([1-9]\d{0,2})$")  # 定期N年: DA/T 22 writes the years into the code


class DispositionRefused(ValueError):
    """The disposition step cannot be taken as asked; the message says why and what would allow it."""


class Decision(StrEnum):
    EXTEND = "extend"  # 延长保管期限: a new, longer retention period
    KEEP = "keep"  # 改为永久保存
    DESTROY = "destroy"  # 销毁: a proposal that a second person approves, then executed


class Status(StrEnum):
    DECIDED = "decided"  # extend / keep: in force when recorded
    PROPOSED = "proposed"  # destroy: waiting for the second person
    APPROVED = "approved"  # destroy: approved, waiting for execution
    REJECTED = "rejected"  # destroy: refused by an approver, or withdrawn by its proposer; nothing destroyed
    EXECUTING = "executing"  # destroy: deleting the package's versions; no hold can be set any more
    EXECUTED = "executed"  # destroy: the package is deleted, the tombstone written


@dataclass(frozen=True)
class Actor:
    """Who takes a step: an API key (id, the name it was issued to, its role)."""

    key_id: str
    name: str
    role: str


@dataclass(frozen=True)
class RecordState:
    """What the rules need of one archived record."""

    case_key: str
    retention: str  # the effective period: the classification's, or the latest extend/keep decision's
    completed_at: datetime
    retain_until: datetime | None  # the package object's COMPLIANCE lock
    legal_hold: bool  # the package object's own legal hold (permanent records)


@dataclass(frozen=True)
class Hold:
    hold_id: int
    case_key: str
    reason: str
    reference: str
    lifted: bool = False


@dataclass(frozen=True)
class Proposal:
    decision_id: int
    case_key: str
    status: Status
    proposed_by: Actor


def retention_years(retention: str) -> int | None:
    """The years of a fixed-term code (D10 → 10); None for permanent. Raises for anything else."""
    if retention == PERMANENT:
        return None
    term = _FIXED_TERM.match(retention)
    if term is None:
        raise DispositionRefused(f"{retention!r} is not a retention period: D<years> (D10, D30, …) or Y")
    return int(term.group(1))


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=moment.year + years, day=28)


def expiry(retention: str, completed_at: datetime) -> datetime | None:
    """When the retention period ends (UTC): completion + the years; None for a permanent record."""
    years = retention_years(retention)
    if years is None:
        return None
    return _add_years(completed_at.astimezone(UTC), years)


def is_due(record: RecordState, now: datetime) -> bool:
    ends = expiry(record.retention, record.completed_at)
    return ends is not None and ends <= now


def active_holds(holds: Sequence[Hold], case_key: str) -> list[Hold]:
    return [h for h in holds if h.case_key == case_key and not h.lifted]


def _need_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise DispositionRefused("a disposition decision needs a reason (--reason)")
    return text


def _not_held(record: RecordState, holds: Sequence[Hold]) -> None:
    held = active_holds(holds, record.case_key)
    if held:
        refs = ", ".join(f"#{h.hold_id} ({h.reference}: {h.reason})" for h in held)
        raise DispositionRefused(f"{record.case_key} is under legal hold {refs}: it cannot be destroyed until lifted")


def check_decision(
    record: RecordState,
    decision: Decision,
    *,
    reason: str | None,
    now: datetime,
    holds: Sequence[Hold] = (),
    pending: Sequence[Proposal] = (),
    new_retention: str | None = None,
) -> str:
    """Refuse a decision the rules do not allow; returns the reason, trimmed. `pending`: the record's
    destruction proposals not yet executed (proposed or approved)."""
    text = _need_reason(reason)
    if not is_due(record, now):
        ends = expiry(record.retention, record.completed_at)
        when = "never ends (permanent)" if ends is None else f"ends {ends.isoformat()}"
        raise DispositionRefused(
            f"{record.case_key} is not due for disposition: its retention {record.retention} {when}"
        )
    if any(p.case_key == record.case_key for p in pending):
        raise DispositionRefused(f"{record.case_key} has a destruction proposal pending; approve or reject it first")
    if decision is Decision.EXTEND:
        if new_retention is None:
            raise DispositionRefused("extending needs the new retention period (--retention D<years>)")
        years, current = retention_years(new_retention), retention_years(record.retention)
        if years is None:
            raise DispositionRefused("to keep a record permanently, decide `keep`, not `extend`")
        if current is not None and years <= current:
            raise DispositionRefused(f"the new period {new_retention} is not longer than {record.retention}")
        ends = expiry(new_retention, record.completed_at)
        if ends is None or ends <= now:
            raise DispositionRefused(f"{new_retention} from completion ended already ({ends}); choose a longer period")
    elif new_retention is not None:
        raise DispositionRefused(f"only `extend` takes a new retention period, not `{decision}`")
    if decision is Decision.DESTROY:
        _not_held(record, holds)
    return text


def new_retention_of(decision: Decision, record: RecordState, new_retention: str | None) -> str:
    """The record's retention after a decision in force."""
    if decision is Decision.KEEP:
        return PERMANENT
    if decision is Decision.EXTEND and new_retention is not None:
        return new_retention
    return record.retention


def check_approval(
    proposal: Proposal, approver: Actor, record: RecordState, holds: Sequence[Hold], now: datetime
) -> None:
    """The two-person rule: another key, another person, the approving role; nothing held; still due."""
    if proposal.status is not Status.PROPOSED:
        raise DispositionRefused(f"proposal #{proposal.decision_id} is {proposal.status}, not waiting for approval")
    if approver.key_id == proposal.proposed_by.key_id:
        raise DispositionRefused(
            f"proposal #{proposal.decision_id} was proposed with key {approver.key_id}: a second person approves it"
        )
    if approver.name.strip().casefold() == proposal.proposed_by.name.strip().casefold():
        raise DispositionRefused(
            f"proposal #{proposal.decision_id} was proposed by {approver.name}: a second person approves it, "
            "not the proposer with another key"
        )
    if approver.role != APPROVING_ROLE:
        raise DispositionRefused(
            f"key {approver.key_id} has role {approver.role}; approving a destruction needs role {APPROVING_ROLE}"
        )
    _not_held(record, holds)
    if not is_due(record, now):
        raise DispositionRefused(f"{record.case_key} is no longer due for disposition (its retention was extended)")


def check_rejection(proposal: Proposal, actor: Actor, reason: str | None) -> str:
    """An approver rejects a proposal, or its proposer withdraws it, with a reason — before execution."""
    text = (reason or "").strip()
    if not text:
        raise DispositionRefused("rejecting a proposal needs a reason (--reason)")
    if proposal.status not in (Status.PROPOSED, Status.APPROVED):
        raise DispositionRefused(f"proposal #{proposal.decision_id} is {proposal.status}; it can no longer be rejected")
    if actor.role != APPROVING_ROLE and actor.key_id != proposal.proposed_by.key_id:
        raise DispositionRefused(
            f"key {actor.key_id} neither proposed #{proposal.decision_id} nor has role {APPROVING_ROLE}"
        )
    return text


def check_execution(proposal: Proposal, record: RecordState, holds: Sequence[Hold], now: datetime) -> None:
    """Destroy only what was approved, is still due, is not held, and whose package lock has run out."""
    if proposal.status is Status.EXECUTING:
        return  # an execution that stopped half-way (its deletions done or not) is finished, not judged again
    if proposal.status is not Status.APPROVED:
        raise DispositionRefused(
            f"proposal #{proposal.decision_id} is {proposal.status}; only an approved one is executed"
        )
    _not_held(record, holds)
    if not is_due(record, now):
        ends = expiry(record.retention, record.completed_at)
        raise DispositionRefused(f"{record.case_key} is not due: its retention {record.retention} ends {ends}")
    if record.legal_hold:
        raise DispositionRefused(f"{record.case_key}'s package carries the permanent legal hold; it is not destroyed")
    if record.retain_until is not None and record.retain_until > now:
        raise DispositionRefused(
            f"{record.case_key}'s package is locked (COMPLIANCE) until {record.retain_until.isoformat()}; "
            "the object store refuses its deletion before then — execute after that moment"
        )


def check_hold(reason: str | None, reference: str | None) -> tuple[str, str]:
    """A legal hold names why (reason) and on what authority (reference: a case, a letter, a court order)."""
    text, ref = (reason or "").strip(), (reference or "").strip()
    if not text or not ref:
        raise DispositionRefused("a legal hold needs a reason (--reason) and a reference (--reference)")
    return text, ref
