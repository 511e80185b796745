"""The import of digitised paper, without servers: the mapping file of the paper catalogue, the legacy
retention kept by classification, the catalogue reader, the pacing, the outcomes and the report."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archivectl.__main__ import build_parser
from archivectl.legacy_import import (
    REPORT_COLUMNS,
    RowResult,
    TokenBucket,
    apply_outcomes,
    cell_text,
    material_name,
    read_catalogue,
    write_report,
)
from archivectl.outcomes import Outcomes
from archivectl.topic_reader import Seen
from contracts.v1 import RetentionPeriod, topics
from services.capture.dialect import MappingError, load_dialects
from services.classification.config import bundled_schedule_file
from services.classification.domain import decide
from services.classification.schedule import load_schedule_file
from services.validation.domain import case_fingerprint
from tests.factories import record

pytestmark = pytest.mark.unit

DIALECT = load_dialects()["legacy-catalogue/1"]
ROW = {
    "档号": "Z109-2003-长期-0012",
    "办件编号": "LS200300012",
    "案卷题名": "苏州启源建材有限公司企业设立登记",
    "年度": "2003",
    "保管期限": "长期",
    "事项名称": "企业设立登记",
    "行政区划": "320507",
    "申请人": "苏州启源建材有限公司",
    "申请人类型": "法人",
    "证件类型": "统一社会信用代码",
    "证件号码": "91320507MA720FD058",
    "法定代表人": "马晨玲",
    "承办部门代码": "1132050000092836XK",
    "承办部门": "苏州市工商行政管理局",
    "受理日期": "2003-04-01",
    "办结日期": "2003-04-09",
    "办理结果": "准予",
    "证照编号": "2003394593",
    "扫描文件夹": "LS200300012",
}
SCANS = [
    {"name": "申请书", "file_name": "01-申请书.pdf", "media_type": "application/pdf", "size": 10, "sha256": "a" * 64,
     "pages": 2, "url": "http://127.0.0.1:19000/s/_import/a.pdf?X-Amz-Signature=1"},
    {"name": "审批表", "file_name": "02-审批表.tif", "media_type": "image/tiff", "size": 10, "sha256": "b" * 64,
     "pages": 2, "url": "http://127.0.0.1:19000/s/_import/b.tif?X-Amz-Signature=1"},
    {"name": "准予设立登记通知书", "file_name": "03-准予设立登记通知书.pdf", "media_type": "application/pdf",
     "size": 10, "sha256": "c" * 64, "pages": 1, "url": "http://127.0.0.1:19000/s/_import/c.pdf?X-Amz-Signature=1"},
]  # fmt: skip


def _payload(**row: str) -> dict[str, Any]:
    return {"catalogue": "案卷目录.xlsx", "row_number": 5, "row": {**ROW, **row}, "scans": SCANS}


@pytest.mark.parametrize(("term", "period"), [("永久", "Y"), ("长期", "D30"), ("短期", "D10"), ("定期30年", "D30")])
def test_a_catalogue_row_maps_to_the_unified_record_with_its_legacy_filing(term, period):
    mapped = DIALECT.map(_payload(保管期限=term), "import")
    assert mapped.case_key == "import/LS200300012/r1"
    assert (mapped.item_code, mapped.item_version, mapped.result.value) == ("XK-SCJG-001", "纸质归档", "approved")
    assert mapped.legacy is not None
    assert mapped.legacy.archival_code == "Z109-2003-长期-0012"
    assert (mapped.legacy.retention_as_filed, mapped.legacy.retention.value) == (term, period)
    assert mapped.legacy.catalogue == "案卷目录.xlsx"
    assert [(p.node, p.time.date()) for p in mapped.process_records] == [
        ("受理", date(2003, 4, 1)),
        ("办结", date(2003, 4, 9)),
    ]
    assert mapped.accepted_at.utcoffset() == timedelta(hours=8)
    assert [(m.stage.value, m.material_name, m.page_count) for m in mapped.materials] == [
        ("application", "申请书", 2),
        ("process", "审批表", 2),
        ("result", "准予设立登记通知书", 1),
    ]


def test_a_retention_term_the_mapping_does_not_know_is_named_never_guessed():
    with pytest.raises(MappingError) as caught:
        DIALECT.map(_payload(保管期限="临时"), "import")
    assert any(p.startswith("legacy.retention: value '临时' is not one of") for p in caught.value.problems)


def test_the_identity_of_a_row_is_known_even_when_the_row_does_not_map():
    identity = DIALECT.identity({"row": {**ROW, "保管期限": "临时", "版本": "2"}}, "import")
    assert identity is not None and identity.case_key == "import/LS200300012/r2"
    assert DIALECT.identity({"row": {"案卷题名": "x"}}, "import") is None


def test_classification_keeps_the_legacy_retention_and_takes_the_rest_from_the_schedule():
    schedule = load_schedule_file(bundled_schedule_file())
    paper = DIALECT.map(_payload(保管期限="短期"), "import").metadata()
    rule = schedule.evaluate(paper)
    assert rule is not None and rule.retention is RetentionPeriod.PERMANENT  # the schedule alone says Y
    decision = decide(paper, schedule)
    assert decision is not None
    assert decision.retention is RetentionPeriod.TEN_YEARS
    assert (decision.category_code, decision.class_code, decision.rule_id) == (
        rule.category_code,
        rule.class_code,
        rule.id,
    )
    born_digital = decide(record().metadata(), schedule)
    assert born_digital is not None and born_digital.retention is rule.retention


def test_a_case_without_legacy_filing_keeps_the_fingerprint_it_had_before_the_field_existed():
    case = record().metadata()
    before = {"case": {k: v for k, v in case.model_dump(mode="json").items() if k != "legacy"}, "files": []}
    digest = hashlib.sha256(json.dumps(before, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert case_fingerprint(case, []) == digest


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("03-准予设立登记通知书.pdf", "准予设立登记通知书"),
        ("02-申请书-p2.jpg", "申请书"),
        ("1 审批表_第3页.TIF", "审批表"),
        ("营业执照.jpeg", "营业执照"),
    ],
)
def test_the_material_name_is_the_file_name_without_its_order_and_page(file_name, name):
    assert material_name(file_name) == name


def test_cells_are_read_as_the_text_the_mapping_file_expects():
    assert cell_text(datetime(2003, 4, 1)) == "2003-04-01"
    assert cell_text(datetime(2003, 4, 1, 9, 30)) == "2003-04-01 09:30:00"
    assert cell_text(date(2003, 4, 1)) == "2003-04-01"
    assert cell_text(2003.0) == "2003"
    assert cell_text(None) == ""
    assert cell_text("  长期 ") == "长期"


def test_xlsx_and_csv_catalogues_read_alike(tmp_path: Path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["档号", "年度", "受理日期", "保管期限"])
    sheet.append(["Z109-2003-长期-0012", 2003, datetime(2003, 4, 1), "长期"])
    sheet.append([None, None, None, None])
    book.save(tmp_path / "c.xlsx")
    (tmp_path / "c.csv").write_text(
        "档号,年度,受理日期,保管期限\nZ109-2003-长期-0012,2003,2003-04-01,长期\n,,,\n", "utf-8-sig"
    )
    expected = [{"档号": "Z109-2003-长期-0012", "年度": "2003", "受理日期": "2003-04-01", "保管期限": "长期"}]
    assert read_catalogue(tmp_path / "c.xlsx") == expected
    assert read_catalogue(tmp_path / "c.csv") == expected
    with pytest.raises(ValueError, match=r"xlsx or \.csv"):
        read_catalogue(tmp_path / "c.ods")


async def test_the_token_bucket_holds_the_rate_after_its_burst():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(2.0, burst=4, clock=lambda: now[0], sleep=sleep)
    for _ in range(4 + 20):
        await bucket.acquire()
    assert now[0] == pytest.approx(20 / 2.0)
    with pytest.raises(ValueError):
        TokenBucket(0)


def _seen(topic: str, key: str, when: datetime, data: dict[str, Any]) -> Seen:
    return Seen(topic, key, {"time": when.isoformat(), "data": data}, 0.0)


def test_a_rejection_from_before_the_run_is_history_an_archived_case_is_not():
    start = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    outcomes = Outcomes(expected={"import/a/r1", "import/b/r1"}, since=start)
    failure = {"failures": [{"code": "USAB-SCAN-BLUR", "reason_en": "blurred", "reason_zh": "模糊"}]}
    outcomes.record(_seen(topics.REJECTED, "import/a/r1", start - timedelta(minutes=5), failure))
    archived = {"classification": {"archival_code": "Z109-XK·2003-D30-LS-0001"}}
    outcomes.record(_seen(topics.ARCHIVED, "import/b/r1", start - timedelta(minutes=5), archived))
    assert outcomes.pending == {"import/a/r1"}
    outcomes.record(_seen(topics.REJECTED, "import/a/r1", start + timedelta(seconds=3), failure))
    assert outcomes.pending == set()

    rows = [RowResult(2, "a", "Z109-2003-长期-0001", "import/a/r1", this_run="sent"),
            RowResult(3, "b", "Z109-2003-长期-0002", "import/b/r1", this_run="sent")]  # fmt: skip
    apply_outcomes(rows, outcomes)
    out = io.StringIO()
    write_report(rows, out)
    lines = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(lines[0]) == REPORT_COLUMNS
    assert [(r["outcome"], r["archival_code"], r["codes"], r["reasons_zh"]) for r in lines] == [
        ("rejected", "", "USAB-SCAN-BLUR", "模糊"),
        ("archived", "Z109-XK·2003-D30-LS-0001", "", ""),
    ]


def test_the_command_is_registered_with_its_defaults():
    args = build_parser().parse_args(["import", "scans", "--catalogue", "案卷目录.xlsx"])
    assert (args.directory, args.catalogue, args.mapping, args.rate) == (
        "scans",
        "案卷目录.xlsx",
        "legacy-catalogue/1",
        1.5,  # half of the 3.13 cases/s measured over 8,000 cases (decision 37)
    )
