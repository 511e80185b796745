"""The disposition rules (services/storage/disposition.py): expiry, due, which decisions are allowed, the
two-person rule and legal holds — pure functions, a clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.storage.disposition import (
    APPROVING_ROLE,
    Actor,
    Decision,
    DispositionRefused,
    Hold,
    Proposal,
    RecordState,
    Status,
    check_approval,
    check_decision,
    check_execution,
    check_hold,
    check_rejection,
    expiry,
    is_due,
    new_retention_of,
    retention_years,
)

pytestmark = pytest.mark.unit

COMPLETED = datetime(2014, 3, 5, 1, 30, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
OPERATOR = Actor("k1operator00", "档案员李娜", "operator")
APPROVER = Actor("k2approver00", "馆长张伟", APPROVING_ROLE)


def record(retention: str = "D10", *, completed: datetime = COMPLETED, lock: datetime | None = None) -> RecordState:
    return RecordState("p/C-1/r1", retention, completed, lock or expiry(retention, completed), legal_hold=False)


def proposal(status: Status = Status.PROPOSED, by: Actor = OPERATOR) -> Proposal:
    return Proposal(7, "p/C-1/r1", status, by)


def test_expiry_is_completion_plus_the_years_and_permanent_never_ends():
    assert expiry("D10", COMPLETED) == datetime(2024, 3, 5, 1, 30, tzinfo=UTC)
    assert expiry("D30", datetime(2024, 2, 29, 12, tzinfo=UTC)) == datetime(2054, 2, 28, 12, tzinfo=UTC)
    assert expiry("Y", COMPLETED) is None
    assert retention_years("D15") == 15
    with pytest.raises(DispositionRefused, match="not a retention period"):
        retention_years("长期")


def test_due_once_the_period_ended_at_the_given_clock():
    ends = expiry("D10", COMPLETED)
    assert ends is not None
    assert not is_due(record(), ends - timedelta(seconds=1))
    assert is_due(record(), ends)
    assert not is_due(record("Y"), NOW)


def test_every_decision_needs_a_reason_and_a_due_record():
    with pytest.raises(DispositionRefused, match="reason"):
        check_decision(record(), Decision.KEEP, reason="  ", now=NOW)
    with pytest.raises(DispositionRefused, match="not due"):
        check_decision(record("D30"), Decision.DESTROY, reason="到期", now=NOW)
    with pytest.raises(DispositionRefused, match="permanent"):
        check_decision(record("Y"), Decision.DESTROY, reason="到期", now=NOW)
    assert check_decision(record(), Decision.DESTROY, reason=" 到期无保存价值 ", now=NOW) == "到期无保存价值"


def test_extending_needs_a_longer_period_that_ends_after_now():
    with pytest.raises(DispositionRefused, match="new retention"):
        check_decision(record(), Decision.EXTEND, reason="仍有查考价值", now=NOW)
    with pytest.raises(DispositionRefused, match="not longer"):
        check_decision(record(), Decision.EXTEND, reason="r", now=NOW, new_retention="D10")
    with pytest.raises(DispositionRefused, match="ended already"):
        check_decision(record(), Decision.EXTEND, reason="r", now=NOW, new_retention="D11")
    with pytest.raises(DispositionRefused, match="keep"):
        check_decision(record(), Decision.EXTEND, reason="r", now=NOW, new_retention="Y")
    with pytest.raises(DispositionRefused, match="only `extend`"):
        check_decision(record(), Decision.DESTROY, reason="r", now=NOW, new_retention="D30")
    check_decision(record(), Decision.EXTEND, reason="r", now=NOW, new_retention="D30")
    assert new_retention_of(Decision.EXTEND, record(), "D30") == "D30"
    assert new_retention_of(Decision.KEEP, record(), None) == "Y"


def test_a_hold_blocks_destruction_but_not_keeping():
    held = [Hold(3, "p/C-1/r1", "行政复议", "浙政复〔2026〕12号")]
    with pytest.raises(DispositionRefused, match="legal hold #3"):
        check_decision(record(), Decision.DESTROY, reason="r", now=NOW, holds=held)
    check_decision(record(), Decision.KEEP, reason="r", now=NOW, holds=held)
    lifted = [Hold(3, "p/C-1/r1", "行政复议", "浙政复〔2026〕12号", lifted=True)]
    check_decision(record(), Decision.DESTROY, reason="r", now=NOW, holds=lifted)
    other = [Hold(4, "p/C-2/r1", "诉讼", "（2026）浙01民初1号")]
    check_decision(record(), Decision.DESTROY, reason="r", now=NOW, holds=other)


def test_a_pending_proposal_blocks_another_decision():
    with pytest.raises(DispositionRefused, match="pending"):
        check_decision(record(), Decision.KEEP, reason="r", now=NOW, pending=[proposal()])


def test_the_approver_is_another_key_another_person_and_holds_the_approving_role():
    with pytest.raises(DispositionRefused, match="second person"):
        check_approval(proposal(), Actor(OPERATOR.key_id, OPERATOR.name, APPROVING_ROLE), record(), [], NOW)
    with pytest.raises(DispositionRefused, match="not the proposer with another key"):
        check_approval(proposal(), Actor("k3other00000", "档案员李娜", APPROVING_ROLE), record(), [], NOW)
    with pytest.raises(DispositionRefused, match="needs role approver"):
        check_approval(proposal(), Actor("k3other00000", "审计员王强", "auditor"), record(), [], NOW)
    with pytest.raises(DispositionRefused, match="not waiting"):
        check_approval(proposal(Status.APPROVED), APPROVER, record(), [], NOW)
    with pytest.raises(DispositionRefused, match="legal hold"):
        check_approval(proposal(), APPROVER, record(), [Hold(1, "p/C-1/r1", "r", "ref")], NOW)
    with pytest.raises(DispositionRefused, match="no longer due"):
        check_approval(proposal(), APPROVER, record("D30"), [], NOW)
    check_approval(proposal(), APPROVER, record(), [], NOW)


def test_execution_needs_an_approval_a_due_unheld_record_and_an_expired_lock():
    with pytest.raises(DispositionRefused, match="only an approved"):
        check_execution(proposal(Status.PROPOSED), record(), [], NOW)
    with pytest.raises(DispositionRefused, match="legal hold"):
        check_execution(proposal(Status.APPROVED), record(), [Hold(1, "p/C-1/r1", "r", "ref")], NOW)
    with pytest.raises(DispositionRefused, match="not due"):
        check_execution(proposal(Status.APPROVED), record(), [], datetime(2020, 1, 1, tzinfo=UTC))
    later_lock = record(lock=NOW + timedelta(days=1))
    with pytest.raises(DispositionRefused, match="locked"):
        check_execution(proposal(Status.APPROVED), later_lock, [], NOW)
    permanent_hold = RecordState("p/C-1/r1", "D10", COMPLETED, None, legal_hold=True)
    with pytest.raises(DispositionRefused, match="permanent legal hold"):
        check_execution(proposal(Status.APPROVED), permanent_hold, [], NOW)
    check_execution(proposal(Status.APPROVED), record(), [], NOW)


def test_a_hold_needs_a_reason_and_a_reference():
    with pytest.raises(DispositionRefused, match="reference"):
        check_hold("诉讼", "")
    assert check_hold(" 诉讼 ", " （2026）浙01民初1号 ") == ("诉讼", "（2026）浙01民初1号")


def test_an_execution_under_way_is_finished_whatever_the_clock_or_a_later_hold():
    # Its versions may be gone already: it is not judged again (a hold cannot be set on it, see the store).
    under_way = proposal(Status.EXECUTING)
    check_execution(under_way, record(), [Hold(1, "p/C-1/r1", "r", "ref")], datetime(2020, 1, 1, tzinfo=UTC))


def test_an_approver_rejects_or_the_proposer_withdraws_a_proposal_with_a_reason_before_execution():
    assert check_rejection(proposal(), APPROVER, " 仍有查考价值 ") == "仍有查考价值"
    assert check_rejection(proposal(Status.APPROVED), OPERATOR, "撤回") == "撤回"  # the proposer withdraws
    with pytest.raises(DispositionRefused, match="reason"):
        check_rejection(proposal(), APPROVER, "")
    with pytest.raises(DispositionRefused, match="neither proposed"):
        check_rejection(proposal(), Actor("k9other00000", "档案员赵敏", "operator"), "r")
    for status in (Status.EXECUTING, Status.EXECUTED, Status.REJECTED):
        with pytest.raises(DispositionRefused, match="no longer be rejected"):
            check_rejection(proposal(status), APPROVER, "r")
