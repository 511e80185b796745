"""The audit log's hash chain, pure: rows built by `next_row` into an in-memory fake log, then edited,
re-hashed, deleted and reordered as someone behind the trigger's back would — `verify_chain` names the
first row that breaks, and says how."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785

from services.common.china_time import CHINA_STANDARD_TIME
from services.query.adapters.audit_log import (
    GENESIS_DIGEST,
    AuditEntry,
    canonical_fields,
    check_head,
    clean_json,
    format_at,
    next_row,
    row_digest,
    verify_chain,
)

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 25, 8, 30, 0, 123456, tzinfo=UTC)


class FakeAuditLog:
    """The table as a list; `append` does what PgAuditLog.append does under its lock."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, entry: AuditEntry) -> dict[str, Any]:
        at = START + timedelta(seconds=len(self.rows))
        row = next_row(self.rows[-1] if self.rows else None, entry, at)
        # what jsonb and timestamptz give back: JSON text parsed again, the same instant
        self.rows.append({**row, "detail": json.loads(json.dumps(row["detail"]))})
        return row


def filled(count: int = 6) -> FakeAuditLog:
    log = FakeAuditLog()
    for n in range(count):
        log.append(
            AuditEntry(
                action="records.search" if n % 2 else "records.read",
                status=200 if n != 3 else 403,
                key_id="k3v9x0q2m7ab",
                principal="档案员李娜",
                role="operator",
                method="GET",
                path="/api/v1/records",
                target=f"market-regulation/SCJG-2026-{n:06d}/r1" if n % 2 == 0 else None,
                detail={"query": {"q": "食品", "applicant_id": "110*************34"}, "n": n},
            )
        )
    return log


def test_an_untouched_log_verifies_and_reports_its_head():
    log = filled()
    verdict = verify_chain(log.rows)
    assert verdict.intact and verdict.rows == 6
    assert (verdict.head_seq, verdict.head_digest) == (6, log.rows[-1]["digest"])
    assert log.rows[0]["prev_digest"] == GENESIS_DIGEST
    assert all(b["prev_digest"] == a["digest"] for a, b in zip(log.rows, log.rows[1:], strict=False))


def test_the_digest_is_sha256_over_the_previous_digest_and_the_canonical_json():
    row = filled(1).rows[0]
    body = {k: row[k] for k in ("seq", "key_id", "principal", "role", "action", "method", "path", "target")}
    body |= {"at": "2026-11-25T08:30:00.123456Z", "detail": row["detail"], "status": row["status"]}
    expected = hashlib.sha256(GENESIS_DIGEST.encode() + rfc8785.dumps(body)).hexdigest()
    assert row["digest"] == expected


def test_a_kept_head_reveals_the_newest_rows_removed_or_the_log_replaced():
    log = filled()
    kept = (4, log.rows[3]["digest"])  # printed by an earlier verify, kept elsewhere
    assert check_head(verify_chain(log.rows), *kept, log.rows[3]["digest"]) is None  # grown since: fine
    shortened = verify_chain(log.rows[:2])  # rows 3-6 removed: what is left still chains
    assert shortened.intact
    assert "rows 3-4 (at least) were removed" in check_head(shortened, *kept, None)
    # a log rebuilt from scratch (or with forged rows from seq 4 on) holds another digest at that seq
    assert "is not the row recorded earlier" in check_head(verify_chain(log.rows), *kept, "f" * 64)


def test_an_empty_log_is_intact():
    verdict = verify_chain([])
    assert verdict.intact and verdict.rows == 0 and verdict.head_digest == GENESIS_DIGEST


@pytest.mark.parametrize("field", ["status", "detail", "principal", "at", "target", "action"])
def test_an_edited_field_is_a_digest_mismatch_at_that_row(field):
    log = filled()
    edits = {
        "status": 200,
        "detail": {"query": {"q": "别的"}},
        "principal": "someone else",
        "at": log.rows[2]["at"] + timedelta(microseconds=1),
        "target": "market-regulation/OTHER/r1",
        "action": "records.read",
    }
    log.rows[3] = {**log.rows[3], field: edits[field]}
    verdict = verify_chain(log.rows)
    assert verdict.first_break is not None
    assert (verdict.first_break.seq, verdict.first_break.kind) == (4, "digest mismatch")
    assert verdict.rows == 3 and verdict.head_seq == 3


def test_an_edit_with_a_recomputed_digest_breaks_the_next_link():
    log = filled()
    forged = {**log.rows[2], "status": 500}
    forged["digest"] = row_digest(forged["prev_digest"], forged)
    log.rows[2] = forged
    verdict = verify_chain(log.rows)
    assert verdict.first_break is not None
    assert (verdict.first_break.seq, verdict.first_break.kind) == (4, "broken link")


def test_a_deleted_row_is_a_gap_named_by_the_row_after_it():
    log = filled()
    del log.rows[2]  # seq 3
    verdict = verify_chain(log.rows)
    assert verdict.first_break is not None
    assert (verdict.first_break.seq, verdict.first_break.kind) == (4, "gap")
    assert "seq 3 missing" in verdict.first_break.message


def test_deleted_first_rows_and_renumbered_rows_are_found():
    log = filled()
    verdict = verify_chain(log.rows[2:])
    assert verdict.first_break is not None and (verdict.first_break.seq, verdict.first_break.kind) == (3, "gap")
    assert "seq 1–2 missing" in verdict.first_break.message
    renumbered = [dict(r) for r in log.rows]
    del renumbered[2]
    for n, row in enumerate(renumbered[2:], start=3):
        row["seq"] = n  # no gap any more — but seq is hashed
    verdict = verify_chain(renumbered)
    assert verdict.first_break is not None and verdict.first_break.seq == 3
    assert verdict.first_break.kind == "broken link"


def test_swapped_rows_are_found():
    log = filled()
    log.rows[2], log.rows[3] = log.rows[3], log.rows[2]
    verdict = verify_chain(log.rows)
    assert verdict.first_break is not None and verdict.first_break.seq == 4


def test_key_order_and_time_zone_do_not_change_the_digest():
    row = filled(1).rows[0]
    shuffled = {k: row[k] for k in reversed(list(row))}
    shuffled["detail"] = dict(reversed(list(row["detail"].items())))
    shuffled["at"] = row["at"].astimezone(CHINA_STANDARD_TIME)
    assert canonical_fields(shuffled) == canonical_fields(row)
    assert row_digest(GENESIS_DIGEST, shuffled) == row["digest"]


def test_timestamps_are_utc_with_microseconds():
    assert format_at(datetime(2026, 1, 2, 11, 4, 5, tzinfo=CHINA_STANDARD_TIME)) == ("2026-01-02T03:04:05.000000Z")
    with pytest.raises(ValueError, match="timezone-aware"):
        format_at(datetime(2026, 1, 2))


def test_details_are_made_safe_for_jsonb_and_canonical_json():
    cleaned = clean_json({"big": 2**60, "nan": float("nan"), "nul": "a\x00b", "set": {"b", "a"}, 3: "x"})
    assert cleaned == {"big": str(2**60), "nan": "nan", "nul": "a\ufffdb", "set": ["a", "b"], "3": "x"}
    rfc8785.dumps(cleaned)  # does not raise
    row = next_row(None, AuditEntry(action="x", status=200, path="/a\udcff\x00"), START)
    assert "\x00" not in row["path"]
    rfc8785.dumps(row["path"])
