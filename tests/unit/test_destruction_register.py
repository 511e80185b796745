"""The destruction register's documents (services/storage/destruction_register.py) and the execution's
PREMIS deletion event and disposed event (services/storage/disposal.py), built from a tombstone."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.v1 import EVENT_MODELS, topics
from services.common.codec import encode_event
from services.storage import destruction_register as register
from services.storage.disposal import deletion_event, disposed_event

pytestmark = pytest.mark.unit

AT = datetime(2036, 3, 6, 2, 0, tzinfo=UTC)


def tombstone(n: int, *, title: str = "杭州云栖科技有限公司设立登记") -> dict[str, Any]:
    return {
        "case_key": f"market-regulation/SCJG-2026-{n:06d}/r1",
        "source_platform": "market-regulation",
        "case_number": f"SCJG-2026-{n:06d}",
        "revision": 1,
        "archival_code": f"Z109-XK·2026-D10-SCJG-{n:04d}",
        "case_title": title,
        "department_code": "SCJG",
        "retention": "D10",
        "completed_at": datetime(2026, 3, 5, 1, 30, tzinfo=UTC),
        "expired_at": datetime(2036, 3, 5, 1, 30, tzinfo=UTC),
        "file_count": 2,
        "total_bytes": 1000 * n,
        "package_bucket": "archive-packages",
        "package_key": f"market-regulation/SCJG-2026-{n:06d}/r1/x.tar",
        "package_sha256": "ab" * 32,
        "deleted_versions": [f"primary:v{n}", f"replica:w{n}"],
        "decision_id": 10 + n,
        "destroyed_at": AT,
    }


def decision(n: int) -> dict[str, Any]:
    return {
        "id": 10 + n,
        "reason": "保管期限已满，经鉴定无继续保存价值",
        "proposed_by": "档案员李娜",
        "approved_by": "馆长张伟",
    }


def test_the_register_lists_every_destroyed_record_in_decision_order_with_totals():
    entries = register.entries_of([(tombstone(2), decision(2)), (tombstone(1, title='含"引号",逗号'), decision(1))])
    assert [e["seq"] for e in entries] == [1, 2] and [e["decision_id"] for e in entries] == [11, 12]
    number = register.register_number(11, AT)
    assert number == "XHQC-20360306-000011"
    xml = register.register_xml(number, entries, AT)
    parsed = register.parse_register_xml(xml)
    assert [p["archival_code"] for p in parsed] == ["Z109-XK·2026-D10-SCJG-0001", "Z109-XK·2026-D10-SCJG-0002"]
    assert parsed[0]["case_title"] == '含"引号",逗号' and parsed[1]["deleted_versions"] == "primary:v2 replica:w2"
    assert b'<totals records="2" files="4" bytes="3000"' in xml
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")

    content = register.register_csv(entries)
    assert content.startswith("\ufeff".encode())  # spreadsheets read the Chinese headings
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "档号", "题名"] and len(rows) == 3
    assert rows[1][2] == '含"引号",逗号' and rows[2][rows[0].index("批准人")] == "馆长张伟"


def test_the_deletion_event_and_the_disposed_event_say_who_why_and_what_was_deleted():
    tomb, dec = tombstone(1), decision(1)
    event = deletion_event(tomb["case_key"], tomb, dec)
    assert event["event_type"] == "deletion" and event["event_type_uri"].endswith("/eventType/del")
    for text in ("primary:v1", "replica:w1", "档案员李娜", "馆长张伟", "D10", "#11"):
        assert text in event["detail"], text
    assert event["event_id"] == deletion_event(tomb["case_key"], tomb, dec)["event_id"]  # derived: stable

    disposed = disposed_event(tomb, dec)
    assert disposed.type == topics.DISPOSED and disposed.subject == tomb["case_key"]
    again = EVENT_MODELS[topics.DISPOSED].model_validate_json(encode_event(disposed))
    assert again == disposed and disposed.id == disposed_event(tomb, dec).id
    assert disposed.data.deleted_versions == ["primary:v1", "replica:w1"]
