"""Disposition, the one path of `archivectl disposition|hold` and the query API (docs/lifecycle.md,
"Disposition"): list the records due, decide each (extend, keep permanently, destroy), approve a
destruction as a second person, set and lift legal holds, and execute approved destructions.

The rules are services/storage/disposition.py's (pure); this module reads what they need through the
store (services/storage/adapters/disposition_store.py) and the sites' object stores, and writes what they
allow. Every function takes the clock's `now`: tests move it instead of waiting.

Execution of one approved destruction, in this order (each step idempotent, so a crash is repaired by
executing again):
1. the rules, re-checked at `now` (approved, due, not held, the package lock run out);
2. every version of the package key deleted on every site — the object store itself refuses while the
   COMPLIANCE lock holds (ObjectLocked), whatever the archive thinks;
   — after the proposal is marked `executing` under the record's row lock, only if no hold is active;
   from then on a hold is refused (a deleted version cannot be held back), and a run that stops is
   finished by the next;
3. ONE transaction: the proposal executed, the tombstone, the PREMIS deletion event, the disposed event
   in the outbox, the record's index rows removed;
4. the disposed event relayed at once (else the storage worker's outbox relay sends it), and the audit
   log appended by the caller's `audit`.
The batch's destruction register (销毁清册) is then filed by the caller as a permanent record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from contracts.envelope import CloudEvent, derived_event_id
from contracts.v1 import CaseIdentity, DisposedEvent, DisposedRecord, topics
from services.common.adapters.object_store import ObjectLocked
from services.common.runner import Publisher
from services.storage import domain
from services.storage.adapters.disposition_store import PgDispositionStore, record_state
from services.storage.copies import PRIMARY, REPLICA
from services.storage.disposition import (
    PERMANENT,
    Actor,
    Decision,
    DispositionRefused,
    Status,
    check_approval,
    check_decision,
    check_execution,
    check_hold,
    check_rejection,
    expiry,
    is_due,
    new_retention_of,
)
from services.storage.ports import DisposableStore
from services.storage.preservation import SUCCESS, event_type_uri

__all__ = [
    "PRIMARY",
    "REPLICA",
    "DisposalSite",
    "approve",
    "decide",
    "due",
    "execute",
    "execute_approved",
    "reject",
]

SERVICE = "storage"
AGENT = "urn:approval-archive:disposition"

# action, target, detail → one row of the audit log (the caller's: the query service's hash chain).
AuditTrail = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class DisposalSite:
    """A site whose package copies disposition deletes or re-locks."""

    name: str
    store: DisposableStore


def disposition_store(pool: asyncpg.Pool) -> PgDispositionStore:
    """The disposition store on a pool the caller owns (the query API lends its own; never closed here)."""
    return PgDispositionStore(pool)


# --- due -------------------------------------------------------------------------------------------------


async def due(store: PgDispositionStore, now: datetime, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Records past their retention at `now`, each with its expiry, active holds and pending proposal."""
    rows = [r for r in await store.due_candidates(now, limit=limit) if is_due(record_state(r), now)]
    keys = [r["case_key"] for r in rows]
    holds, pending = await store.holds(keys), await store.pending(keys)
    for row in rows:
        row["expires_at"] = expiry(row["retention"], row["completed_at"])
        row["holds"] = [
            {"hold_id": h.hold_id, "reason": h.reason, "reference": h.reference}
            for h in holds
            if h.case_key == row["case_key"]
        ]
        open_ = [p for p in pending if p.case_key == row["case_key"]]
        row["pending"] = {"decision_id": open_[0].decision_id, "status": open_[0].status.value} if open_ else None
    return rows


# --- decide, approve, hold -------------------------------------------------------------------------------


async def _state(store: PgDispositionStore, case_key: str) -> dict[str, Any]:
    record = await store.record(case_key)
    if record is None:
        gone = await store.tombstone(case_key)
        if gone is not None:
            raise DispositionRefused(f"{case_key} was destroyed at {gone['destroyed_at'].isoformat()}")
        raise DispositionRefused(f"no archived record {case_key}")
    return record


async def decide(
    store: PgDispositionStore,
    case_key: str,
    decision: Decision,
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    new_retention: str | None = None,
    sites: Sequence[DisposalSite] = (),
) -> dict[str, Any]:
    """Record an appraisal decision. Extend and keep are in force at once (the package's lock on every
    site is lengthened to the new end first — COMPLIANCE never lets it shorten); destroy is a proposal."""
    record = await _state(store, case_key)
    state = record_state(record)
    holds, pending = await store.holds([case_key]), await store.pending([case_key])
    text = check_decision(
        state, decision, reason=reason, now=now, holds=holds, pending=pending, new_retention=new_retention
    )
    after = None if decision is Decision.DESTROY else new_retention_of(decision, state, new_retention)
    if after is not None:
        await _relock(store, record, after, sites)
    try:
        return await store.insert_decision(
            case_key=case_key,
            decision=decision.value,
            status=Status.PROPOSED if decision is Decision.DESTROY else Status.DECIDED,
            reason=text,
            retention_before=state.retention,
            retention_after=after,
            actor=actor,
            at=now,
        )
    except LookupError as exc:
        raise DispositionRefused(str(exc)) from exc


async def _relock(
    store: PgDispositionStore, record: dict[str, Any], retention: str, sites: Sequence[DisposalSite]
) -> None:
    if retention == PERMANENT:
        until, hold = domain.PERMANENT_UNTIL, True
    else:
        ends = expiry(retention, record["completed_at"])
        assert ends is not None
        until, hold = max(ends, record["retain_until"] or ends).replace(microsecond=0), False
    versions = {"primary": record["package_version_id"], "replica": record["replica_version_id"]}
    for site in sites:
        if versions.get(site.name):
            await site.store.extend_lock(
                record["package_bucket"],
                record["package_key"],
                versions[site.name],
                retain_until=until,
                legal_hold=hold,
            )
    await store.set_lock(record["case_key"], retain_until=until, legal_hold=hold)


async def approve(store: PgDispositionStore, decision_id: int, *, approver: Actor, now: datetime) -> dict[str, Any]:
    """The second person's approval of a destruction proposal (services/storage/disposition.py
    `check_approval`: another key, another name, the approving role, nothing held, still due)."""
    row = await store.decision(decision_id)
    if row is None or row["decision"] != Decision.DESTROY:
        raise DispositionRefused(f"no destruction proposal #{decision_id}")
    record = await _state(store, row["case_key"])
    check_approval(store.proposal_of(row), approver, record_state(record), await store.holds([row["case_key"]]), now)
    approved = await store.approve(decision_id, approver, now)
    if approved is None:
        raise DispositionRefused(f"proposal #{decision_id} was approved or withdrawn meanwhile")
    return approved


async def reject(
    store: PgDispositionStore, decision_id: int, *, actor: Actor, reason: str | None, now: datetime
) -> dict[str, Any]:
    """An approver rejects a destruction proposal (or its proposer withdraws it): nothing is destroyed and
    the record, still due, can be decided again."""
    row = await store.decision(decision_id)
    if row is None or row["decision"] != Decision.DESTROY:
        raise DispositionRefused(f"no destruction proposal #{decision_id}")
    text = check_rejection(store.proposal_of(row), actor, reason)
    rejected = await store.reject(decision_id, actor, text, now)
    if rejected is None:
        raise DispositionRefused(f"proposal #{decision_id} started executing or was closed meanwhile")
    return rejected


async def set_hold(
    store: PgDispositionStore, case_key: str, *, reason: str | None, reference: str | None, by: str, now: datetime
) -> dict[str, Any]:
    text, ref = check_hold(reason, reference)
    await _state(store, case_key)
    try:
        return await store.set_hold(case_key, reason=text, reference=ref, by=by, at=now)
    except (LookupError, PermissionError) as exc:
        raise DispositionRefused(str(exc)) from exc


async def lift_hold(
    store: PgDispositionStore, hold_id: int, *, reason: str | None, by: str, now: datetime
) -> dict[str, Any]:
    text = (reason or "").strip()
    if not text:
        raise DispositionRefused("lifting a legal hold needs a reason (--reason)")
    lifted = await store.lift_hold(hold_id, reason=text, by=by, at=now)
    if lifted is None:
        raise DispositionRefused(f"no active legal hold #{hold_id}")
    return lifted


# --- execute ---------------------------------------------------------------------------------------------


@dataclass
class Destroyed:
    case_key: str
    tombstone: dict[str, Any]
    event: DisposedEvent
    published: bool
    record: dict[str, Any]  # the index row it had


@dataclass
class ExecutionReport:
    destroyed: list[Destroyed] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # decision id → why not (yet)


def deletion_event(case_key: str, tombstone: dict[str, Any], proposal: dict[str, Any]) -> dict[str, Any]:
    """The PREMIS deletion event of a destroyed package (a preservation_events row of the case)."""
    versions = ", ".join(tombstone["deleted_versions"]) or "none left"
    return {
        "event_id": derived_event_id("deletion", case_key),
        "event_type": "deletion",
        "event_type_uri": event_type_uri("deletion"),
        "event_time": tombstone["destroyed_at"],
        "outcome": SUCCESS,
        "detail": (
            f"package {tombstone['package_bucket']}/{tombstone['package_key']} deleted at the end of retention "
            f"{tombstone['retention']} ({tombstone['expired_at'].isoformat()}), versions {versions}; decision "
            f"#{proposal['id']} proposed by {proposal['proposed_by']}, approved by {proposal['approved_by']}: "
            f"{proposal['reason']}"
        ),
        "agent": AGENT,
    }


def disposed_event(tombstone: dict[str, Any], proposal: dict[str, Any]) -> DisposedEvent:
    case_key = tombstone["case_key"]
    return CloudEvent[DisposedRecord](
        id=derived_event_id(topics.DISPOSED, case_key),
        source=f"urn:approval-archive:{SERVICE}",
        type=topics.DISPOSED,
        time=tombstone["destroyed_at"],
        subject=case_key,
        correlationid=case_key,
        data=DisposedRecord(
            case=CaseIdentity(
                source_platform=tombstone["source_platform"],
                case_number=tombstone["case_number"],
                revision=tombstone["revision"],
            ),
            archival_code=tombstone["archival_code"],
            case_title=tombstone["case_title"],
            retention=tombstone["retention"],
            completed_at=tombstone["completed_at"],
            expired_at=tombstone["expired_at"],
            decision_id=proposal["id"],
            reason=proposal["reason"],
            proposed_by=proposal["proposed_by"],
            approved_by=proposal["approved_by"],
            package_bucket=tombstone["package_bucket"],
            package_key=tombstone["package_key"],
            package_sha256=tombstone["package_sha256"],
            deleted_versions=tombstone["deleted_versions"],
            destroyed_at=tombstone["destroyed_at"],
        ),
    )


async def delete_package(sites: Sequence[DisposalSite], bucket: str, key: str) -> list[str]:
    """Delete every version (and delete marker) of the package key on every site; `<site>:<version>` of
    each deleted. ObjectLocked when a site's server refuses (the lock has not run out there)."""
    deleted = []
    for site in sites:
        for version in await site.store.list_versions(bucket, key):
            if version.key != key:
                continue
            await site.store.delete_version(bucket, key, version.version_id)
            deleted.append(f"{site.name}:{version.version_id}")
    return deleted


async def execute(
    store: PgDispositionStore,
    decision_id: int,
    *,
    sites: Sequence[DisposalSite],
    now: datetime,
    publisher: Publisher | None = None,
    topic_name: Callable[[str], str] = lambda t: t,
    audit: AuditTrail | None = None,
) -> Destroyed:
    """Execute one approved destruction (the module's docstring says in which order). Raises
    DispositionRefused when the rules refuse, ObjectLocked when a site's server does."""
    proposal = await store.decision(decision_id)
    if proposal is None or proposal["decision"] != Decision.DESTROY:
        raise DispositionRefused(f"no destruction proposal #{decision_id}")
    record = await _state(store, proposal["case_key"])
    state = record_state(record)
    check_execution(store.proposal_of(proposal), state, await store.holds([state.case_key]), now)
    if not await store.start_execution(decision_id, state.case_key):
        raise DispositionRefused(f"{state.case_key} was put under legal hold: it cannot be destroyed until lifted")
    deleted = await delete_package(sites, record["package_bucket"], record["package_key"])
    # The versions the index knew that an earlier run deleted before it stopped are named too.
    known = [
        f"{site}:{record[column]}"
        for site, column in ((PRIMARY, "package_version_id"), (REPLICA, "replica_version_id"))
        if record.get(column)
    ]
    deleted += [f"{v} (deleted by an earlier run)" for v in known if v not in deleted]
    ends = expiry(state.retention, state.completed_at)
    assert ends is not None  # check_execution: it is due, so it ends
    tombstone = {
        "case_key": state.case_key,
        "source_platform": record["source_platform"],
        "case_number": record["case_number"],
        "revision": record["revision"],
        "archival_code": record["archival_code"],
        "case_title": record["case_title"],
        "department_code": record["department_code"],
        "region_code": record["region_code"],
        "retention": state.retention,
        "completed_at": state.completed_at,
        "expired_at": ends,
        "file_count": record["file_count"],
        "total_bytes": record["total_bytes"],
        "package_bucket": record["package_bucket"],
        "package_key": record["package_key"],
        "package_sha256": record["package_sha256"],
        "deleted_versions": deleted,
        "decision_id": decision_id,
        "destroyed_at": now,
    }
    event = disposed_event(tombstone, proposal)
    recorded = await store.record_destruction(
        decision_id, tombstone, deletion_event(state.case_key, tombstone, proposal), event
    )
    if not recorded:
        raise DispositionRefused(f"proposal #{decision_id} was executed meanwhile")
    published = False
    if publisher is not None:
        try:
            published = bool(await store.relay_outbox(publisher, topic_name, only=event.id))
        except Exception:  # the broker is down: the storage worker's outbox relay sends it later
            published = False
    if audit is not None:
        await audit(
            "disposition.execute",
            state.case_key,
            {
                "decision_id": decision_id,
                "archival_code": record["archival_code"],
                "reason": proposal["reason"],
                "proposed_by": proposal["proposed_by"],
                "approved_by": proposal["approved_by"],
                "deleted_versions": deleted,
            },
        )
    return Destroyed(state.case_key, tombstone, event, published, record)


async def execute_approved(
    store: PgDispositionStore,
    *,
    sites: Sequence[DisposalSite],
    now: datetime,
    publisher: Publisher | None = None,
    topic_name: Callable[[str], str] = lambda t: t,
    audit: AuditTrail | None = None,
    only: Sequence[int] | None = None,
) -> ExecutionReport:
    """Execute every approved destruction (or those of `only`) that the rules and the object store allow
    at `now`; the others are reported with the reason, and stay approved for a later run."""
    report = ExecutionReport()
    approved = [
        *await store.decisions(status=Status.EXECUTING.value, limit=10_000),  # stopped half-way: finished
        *await store.decisions(status=Status.APPROVED.value, limit=10_000),
    ]
    for row in sorted(approved, key=lambda r: r["id"]):
        if only is not None and row["id"] not in only:
            continue
        try:
            report.destroyed.append(
                await execute(
                    store, row["id"], sites=sites, now=now, publisher=publisher, topic_name=topic_name, audit=audit
                )
            )
        except (DispositionRefused, ObjectLocked) as exc:
            report.refused[row["id"]] = str(exc)
        except Exception as exc:  # a site or the database failed mid-way: the next run finishes it
            report.refused[row["id"]] = (
                f"stopped half-way ({type(exc).__name__}: {exc}); the proposal stays executing and the next "
                "`archivectl disposition execute` finishes it"
            )
    return report
