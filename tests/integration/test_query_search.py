"""Record search against the real PostgreSQL: the SQL finds exactly what a plain Python filter finds.

The rows live in a schema of this module's own, made `LIKE` the migrated tables (columns, the generated
bigram column, indexes, constraints), so records other tests archive in the session's database never
mix in. Every comparison is of ordered lists: `search_all` walks the cursors, so pagination is part of
every check, and the reference is `[r for r in ROWS if in_scope(caller, r) and matches(filters, r)]`
sorted newest first. Each test runs with the production search windows and with tiny ones (`windows`)."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.common.china_time import CHINA_STANDARD_TIME
from services.query import search
from services.query.access import ALL_SHARING, Caller, Role, in_scope
from services.query.search import (
    MAX_PAGE,
    BadCursor,
    SearchFilters,
    encode_cursor,
    fold_case,
    search_records,
    start_of_day,
)

pytestmark = pytest.mark.integration

CST = CHINA_STANDARD_TIME

# --- the rows ------------------------------------------------------------------------------------------

APPLICANTS = [
    ("杭州云栖科技有限公司", "organisation", "uscc", "91330100MA2B3C4D5E"),
    ("杭州云栖餐饮管理有限公司", "organisation", "uscc", "91330100MA2B3C4D6F"),
    ("苏州恒信食品有限公司", "organisation", "uscc", "91320500MA1X2Y3Z4A"),
    ("深圳华博建设集团有限公司", "organisation", "uscc", "91440300MA5F6G7H8J"),
    ("福州安泰物流有限公司", "organisation", "uscc", "91350100MA8K9L0M1N"),
    ("成都中瑞医疗器械有限公司", "organisation", "uscc", "91510100MA2P3Q4R5T"),
    ("O'Brien贸易（上海）有限公司", "organisation", "uscc", "91310000MA1A2B3C4D"),
    ("R&D创新中心|实验室", "organisation", "uscc", "91330100MA9A8B7C6D"),
    ("100%纯净水厂", "organisation", "uscc", "91330100MA5E4F3G2H"),
    ("A_B科技 有限公司", "organisation", "uscc", "91330100MA1J2K3L4M"),
    ("Back\\Slash软件工作室", "organisation", "uscc", "91330100MA6N7P8Q9R"),
    ("Wow! 惊喜超市", "organisation", "uscc", "91330100MA3S4T5U6V"),
    ("ABC Trading Co.", "organisation", "uscc", "91330100MA7W8X9Y0Z"),
    ("ｆｕｌｌ宽度商行", "organisation", "uscc", "91330100MA2C3D4E5F"),
    ("栖云山庄有限公司", "organisation", "uscc", "91330100MA4G5H6J7K"),
    ("王芳", "person", "resident_id", "110101199003071234"),
    ("王小明", "person", "resident_id", "330106198805120021"),
    ("李明", "person", "resident_id", "320505197701013318"),
    ("张伟", "person", "resident_id", "44030319920215402X"),
]
ITEMS = [
    ("XK-SCJG-001", "企业设立登记", "market-regulation", "SCJG"),
    ("XK-SCJG-011", "食品经营许可", "market-regulation", "SCJG"),
    ("XK-ZJJS-001", "建筑工程施工许可证核发", "construction-permit", "ZJJS"),
    ("XK-JTYS-001", "道路货物运输经营许可", "transport", "JTYS"),
    ("XK-JTYS-011", "道路运输从业人员从业资格证核发", "transport", "JTYS"),
]
DEPARTMENTS = {
    "market-regulation": [("11330100SCJG", "杭州市市场监督管理局"), ("11320500SCJG", "苏州市市场监督管理局")],
    "construction-permit": [("11330100ZJJS", "杭州市住房和城乡建设局")],
    "transport": [("11350100JTYS", "福州市交通运输局"), ("11330100JTYS", "杭州市交通运输局")],
}
TITLE_FORMS = ["{applicant}{item}", "关于{applicant}{item}的决定", "{applicant} {item}（变更）"]
# Few distinct instants for many rows: ties on completed_at, which the cursor must break by case key.
# Two sit either side of midnight in Beijing, where a UTC day and a Chinese day disagree.
INSTANTS = [datetime(2024, 1, 1, 9, tzinfo=CST) + timedelta(days=37 * n, hours=n % 7) for n in range(24)] + [
    datetime(2026, 2, 1, 7, 0, tzinfo=CST),  # 2026-01-31 23:00 UTC, but 1 February in China
    datetime(2026, 1, 31, 23, 30, tzinfo=CST),
]


def generate_rows(count: int = 260) -> list[dict[str, Any]]:
    rng = random.Random(20261125)
    rows = []
    for n in range(1, count + 1):
        applicant = rng.choice(APPLICANTS)
        item_code, item_name, platform, organisation = rng.choice(ITEMS)
        department_code, department_name = rng.choice(DEPARTMENTS[platform])
        completed = rng.choice(INSTANTS)
        retention = rng.choice(["Y", "D30", "D10"])
        category = rng.choice(["XK", "XK", "WS"])
        rows.append(
            {
                "case_key": f"{platform}/T-{n:04d}/r1",
                "source_platform": platform,
                "case_number": f"T-{n:04d}",
                "revision": 1,
                "region_code": department_code[2:8],
                "item_code": item_code,
                "item_name": item_name,
                "case_title": rng.choice(TITLE_FORMS).format(applicant=applicant[0], item=item_name),
                "applicant_name": applicant[0],
                "applicant_type": applicant[1],
                "applicant_id_type": applicant[2],
                "applicant_id_number": applicant[3],
                "department_code": department_code,
                "department_name": department_name,
                "accepted_at": completed - timedelta(days=3),
                "completed_at": completed,
                "result": "approved",
                "certificate_number": None,
                "archival_code": f"Z109-{category}·{completed.year}-{retention}-{organisation}-{n:04d}",
                "category_code": category,
                "class_code": item_code[3:],
                "retention": retention,
                "security_level": rng.choices(["公开", "内部", "秘密"], weights=[70, 25, 5])[0],
                "sharing_level": rng.choices(["01", "02", "03"], weights=[50, 35, 15])[0],
                "rule_id": "test",
                "schedule_version": "test",
                "package_bucket": "archive-packages",
                "package_prefix": f"{platform}/T-{n:04d}/r1/",
                "manifest_sha256": "0" * 64,
                "file_count": 1,
                "total_bytes": 20,
                "correlation_id": f"corr-{n}",
                "archived_at": completed + timedelta(hours=1),
                "archived_event": "{}",
            }
        )
    # A row whose title holds 云栖 and whose applicant holds 栖云: every bigram of 云栖云 is present,
    # the text is in no field. Only the exact check after the bigram index keeps it out.
    rows[0].update(case_title="云栖大会会务服务采购", applicant_name="栖云山庄有限公司")
    # The same for LIKE's wildcards: every bigram of a_b and 5%0 is here, and a_b / 5%0 read as patterns
    # would match AXB / 50. Escaped, they match only themselves.
    rows[1].update(case_title="AXB仓储（a_ 与 _b）设立登记")
    rows[2].update(case_title="折扣50折（5% 与 %0）食品经营许可")
    return rows


ROWS = generate_rows()


async def insert(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> None:
    codes = [
        (r["case_key"], r["archival_code"], "Z109", r["category_code"], r["completed_at"].year, r["retention"],
         r["archival_code"].split("-")[3], int(r["archival_code"].rsplit("-", 1)[1]))
        for r in rows
    ]  # fmt: skip
    await conn.executemany(
        "INSERT INTO archival_codes (case_key, archival_code, fonds_code, category_code, year, retention, "
        "organisation_code, item_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        codes,
    )
    columns = list(rows[0])
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.executemany(
        f"INSERT INTO records ({', '.join(columns)}) VALUES ({placeholders})",
        [tuple(r[c] for c in columns) for r in rows],
    )


@pytest.fixture(scope="module")
async def conn(prepared) -> AsyncIterator[asyncpg.Connection]:
    schema = f"search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(prepared.pg_dsn())
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        await admin.execute(f"CREATE TABLE {schema}.archival_codes (LIKE public.archival_codes INCLUDING ALL)")
        await admin.execute(f"CREATE TABLE {schema}.records (LIKE public.records INCLUDING ALL)")
        await admin.execute(
            f"ALTER TABLE {schema}.records ADD FOREIGN KEY (archival_code) "
            f"REFERENCES {schema}.archival_codes (archival_code)"
        )
        connection = await asyncpg.connect(prepared.pg_dsn(), server_settings={"search_path": f"{schema}, public"})
        try:
            await insert(connection, ROWS)
            await connection.execute("ANALYZE records")
            yield connection
        finally:
            await connection.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.fixture(autouse=True, params=["windows of 2000/20000", "windows of 3/20"])
def windows(request, monkeypatch):
    """Every test runs twice: with the production windows (260 rows fit in the first, one plain query) and
    with tiny ones, so that every page is assembled from the newest window, the next one and the rest."""
    if request.param == "windows of 3/20":
        monkeypatch.setattr(search, "WINDOWS", (3, 20))
    return request.param


# --- the reference -------------------------------------------------------------------------------------


def matches(filters: SearchFilters, row: dict[str, Any]) -> bool:
    text = (filters.text or "").strip()
    if text and not any(
        text.lower() in row[c].lower() for c in ("case_title", "applicant_name", "item_name", "archival_code")
    ):
        return False
    for name in ("item_code", "department_code", "source_platform", "applicant_id_number", "retention"):
        if getattr(filters, name) and row[name] != getattr(filters, name):
            return False
    if filters.category_code and row["category_code"] != filters.category_code:
        return False
    day = row["completed_at"].astimezone(CST).date()  # the day in China, where the case was decided
    if filters.completed_from and day < filters.completed_from:
        return False
    return not (filters.completed_to and day > filters.completed_to)


def expected(filters: SearchFilters, caller: Caller) -> list[str]:
    found = [r for r in ROWS if in_scope(caller, r) and matches(filters, r)]
    found.sort(key=lambda r: (r["completed_at"], r["case_key"]), reverse=True)
    return [r["case_key"] for r in found]


async def search_all(conn: asyncpg.Connection, filters: SearchFilters, caller: Caller) -> list[str]:
    """Every page of the search, following the cursors."""
    keys: list[str] = []
    filters = replace(filters, limit=filters.limit if filters.limit != 20 else MAX_PAGE)
    while True:
        page = await search_records(conn, filters, caller)
        assert len(page.rows) <= filters.limit
        keys += [r["case_key"] for r in page.rows]
        if page.next_cursor is None:
            return keys
        assert len(page.rows) == filters.limit  # only a full page has a next one
        filters = replace(filters, cursor=page.next_cursor)


OPERATOR = Caller("op", "运维", Role.OPERATOR, ALL_SHARING, "内部")
AUDITOR = Caller("au", "审计", Role.AUDITOR, ALL_SHARING, "秘密")
CALLERS = [
    OPERATOR,
    AUDITOR,
    Caller("s1", "监管（无条件共享）", Role.SUPERVISION, frozenset({"01"}), "公开"),
    Caller(
        "s2", "监管（杭州、苏州市场监管）", Role.SUPERVISION, frozenset({"01", "02"}), "内部",
        frozenset({"11330100SCJG", "11320500SCJG"}),
    ),
    Caller("p1", "市场监管平台", Role.PLATFORM, ALL_SHARING, "内部", platform_id="market-regulation"),
    Caller("p2", "交通平台", Role.PLATFORM, frozenset({"01"}), "公开", platform_id="transport"),
    Caller("o2", "福州交通运维", Role.OPERATOR, frozenset({"01", "02"}), "公开", frozenset({"11350100JTYS"})),
]  # fmt: skip


def test_the_rows_cover_what_the_tests_need():
    assert {r["sharing_level"] for r in ROWS} == {"01", "02", "03"}
    assert {r["security_level"] for r in ROWS} == {"公开", "内部", "秘密"}
    assert len({r["completed_at"] for r in ROWS}) < len(ROWS) / 5  # plenty of ties
    assert all(in_scope(OPERATOR, r) == (r["security_level"] != "秘密") for r in ROWS)


async def test_the_table_under_test_is_the_migrated_one(conn):
    ours = await conn.fetch(
        "SELECT column_name, data_type, is_generated FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'records' ORDER BY ordinal_position"
    )
    public = await conn.fetch(
        "SELECT column_name, data_type, is_generated FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'records' ORDER BY ordinal_position"
    )
    assert [tuple(r) for r in ours] == [tuple(r) for r in public]
    assert ("search_terms", "tsvector", "ALWAYS") in [tuple(r) for r in ours]
    indexes = await conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'records'"
    )
    assert indexes == await conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'records'"
    )


# --- text ----------------------------------------------------------------------------------------------

CHINESE_TEXTS = [
    "云", "食", "王", "芳", "许", "镀", "栖",  # one character (镀: nowhere)
    "云栖", "食品", "有限", "许可", "物流", "王芳", "小明", "栖云", "登记",  # two
    "云栖科技", "有限公司", "建筑工程施工", "杭州云栖餐饮管理有限公司", "道路运输从业人员", "关于王芳",  # three or more
    "云栖云",  # every bigram in one row, the text in none
    "科技有限公司食品", "市场监督管理局",  # nowhere (department names are not searched)
]  # fmt: skip
ASCII_TEXTS = [
    "abc", "ABC", "Trading", "co.", "R&D", "O'Brien", "A_B", "100%", "Back\\Slash", "wow!", "ＦＵＬＬ", "full",
    "XK·2024", "Z109", "0001", "D30-SCJG", "7", "1", "z", "X",
]  # fmt: skip
HOSTILE_TEXTS = [
    "'", "\\", "%", "_", "&", "|", "!", "%%", "__", "\\%", "'; DROP TABLE records; --", "a'b", "!科技", "科技&",
    "科技 | 食品", "食品 & !许可", "(科技)", "科技:*", "A%B", "A_", "_B", "云栖 科技", " 云栖 ", "  ", "科技\\",
    "云栖\x00科技", "$1", "\t食品\n", "a_b", "5%0",
]  # fmt: skip


@pytest.mark.parametrize("text", CHINESE_TEXTS + ASCII_TEXTS)
async def test_text_finds_exactly_the_rows_holding_it(conn, text):
    filters = SearchFilters(text=text)
    assert await search_all(conn, filters, AUDITOR) == expected(filters, AUDITOR)


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
async def test_quotes_wildcards_operators_and_spaces_neither_break_nor_widen_the_search(conn, text):
    filters = SearchFilters(text=text)
    found = await search_all(conn, filters, AUDITOR)
    assert found == expected(filters, AUDITOR)
    if text.strip() and text.strip() not in ("%", "_", "\\"):
        assert len(found) < len(ROWS) / 2  # none of these is in most rows: a wildcard did not leak


def test_wildcards_are_not_everywhere_in_the_rows():
    # The hostile-text check above compares with the reference; make sure the reference is selective.
    assert 0 < len(expected(SearchFilters(text="%"), AUDITOR)) < len(ROWS) / 10
    assert 0 < len(expected(SearchFilters(text="_"), AUDITOR)) < len(ROWS) / 10


async def test_random_substrings_of_the_rows_find_the_rows_holding_them(conn):
    rng = random.Random(7)
    fields = ("case_title", "applicant_name", "item_name", "archival_code")
    for _ in range(150):
        value = rng.choice(ROWS)[rng.choice(fields)]
        start = rng.randrange(len(value))
        text = value[start : start + rng.randint(1, 8)]
        filters = SearchFilters(text=text)
        found = await search_all(conn, filters, AUDITOR)
        assert found == expected(filters, AUDITOR), text
        if text.strip():
            assert found  # it came from a row the auditor sees, or from a 秘密 row the auditor sees too


async def test_random_strings_of_the_rows_characters_find_what_python_finds(conn):
    rng = random.Random(11)
    alphabet = sorted({c for r in ROWS for c in r["case_title"] + r["applicant_name"]} | set("%_\\'&|!:*() "))
    for _ in range(150):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        filters = SearchFilters(text=text)
        assert await search_all(conn, filters, AUDITOR) == expected(filters, AUDITOR), repr(text)


async def test_case_folding_in_python_is_postgresqls_on_every_code_point(conn):
    # fold_case builds the bigrams the index is asked for; the index was built with lower().
    text = "".join(chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000)
    assert fold_case(text) == await conn.fetchval("SELECT lower($1)", text)


# --- filters -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(item_code="XK-SCJG-011"),
        SearchFilters(department_code="11330100JTYS"),
        SearchFilters(source_platform="construction-permit"),
        SearchFilters(applicant_id_number="110101199003071234"),
        SearchFilters(applicant_id_number="11010119900307123"),  # a prefix is not the number
        SearchFilters(retention="D10"),
        SearchFilters(category_code="WS"),
        SearchFilters(completed_from=date(2025, 6, 1)),
        SearchFilters(completed_to=date(2024, 6, 30)),
        SearchFilters(completed_from=date(2024, 3, 1), completed_to=date(2025, 3, 1)),
        # Beijing's 1 February 07:00 is 31 January in UTC: it belongs to February here.
        SearchFilters(completed_from=date(2026, 2, 1), completed_to=date(2026, 2, 1)),
        SearchFilters(completed_from=date(2026, 1, 31), completed_to=date(2026, 1, 31)),
        SearchFilters(completed_from=date(2026, 3, 1), completed_to=date(2026, 2, 1)),  # empty range
        SearchFilters(text="有限", item_code="XK-SCJG-001", retention="Y"),
        SearchFilters(text="王", department_code="11320500SCJG", completed_to=date(2025, 12, 31)),
        SearchFilters(text="许可", source_platform="transport", category_code="XK", completed_from=date(2024, 6, 1)),
    ],
    ids=repr,
)
async def test_every_filter_keeps_exactly_the_rows_it_names(conn, filters):
    found = await search_all(conn, filters, AUDITOR)
    assert found == expected(filters, AUDITOR)


def test_the_midnight_rows_fall_on_their_chinese_days():
    feb = expected(SearchFilters(completed_from=date(2026, 2, 1), completed_to=date(2026, 2, 1)), AUDITOR)
    jan = expected(SearchFilters(completed_from=date(2026, 1, 31), completed_to=date(2026, 1, 31)), AUDITOR)
    assert feb and jan and not set(feb) & set(jan)
    assert start_of_day(date(2026, 2, 1)) == datetime(2026, 1, 31, 16, tzinfo=UTC)


# --- scope ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.name)
@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(),
        SearchFilters(text="有限"),
        SearchFilters(text="王"),
        SearchFilters(item_code="XK-JTYS-001"),
        SearchFilters(source_platform="market-regulation"),
        SearchFilters(department_code="11330100SCJG", text="云栖"),
    ],
    ids=repr,
)
async def test_a_caller_sees_exactly_the_records_in_its_scope(conn, caller, filters):
    found = await search_all(conn, filters, caller)
    assert found == expected(filters, caller)
    assert all(in_scope(caller, next(r for r in ROWS if r["case_key"] == key)) for key in found)


def test_the_scopes_differ():
    # Otherwise the scope test could pass with the scope ignored.
    seen = {c.key_id: expected(SearchFilters(), c) for c in CALLERS}
    assert len({tuple(v) for v in seen.values()}) == len(CALLERS)
    assert all(seen.values())


# --- pagination ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [SearchFilters(limit=3), SearchFilters(text="有限", limit=3), SearchFilters(text="食", limit=3)],
    ids=repr,
)
async def test_pages_of_three_walk_every_match_once_in_order(conn, filters):
    pages = []
    while True:
        page = await search_records(conn, filters, OPERATOR)
        pages.append([r["case_key"] for r in page.rows])
        if page.next_cursor is None:
            break
        filters = replace(filters, cursor=page.next_cursor)
    walked = [key for page in pages for key in page]
    assert walked == expected(filters, OPERATOR)
    assert len(walked) == len(set(walked))
    assert all(len(p) == 3 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    assert len(pages) > 10  # many pages, across many completed_at ties


async def test_rows_come_newest_first_with_ties_broken_by_case_key(conn):
    page = await search_records(conn, SearchFilters(limit=MAX_PAGE), OPERATOR)
    order = [(r["completed_at"], r["case_key"]) for r in page.rows]
    assert order == sorted(order, reverse=True)
    assert len({t for t, _ in order}) < len(order)


def _b64(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        _b64(["2026-01-01T00:00:00+00:00", "market-regulation/T-0001/r1"]),
        _b64(["2026-01-01T00:00:00+00:00", "market-regulation/T-0001/r1", "0" * 16]),
        encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), "k", SearchFilters(text="食品")),  # another search's
    ],
)
async def test_a_forged_cursor_raises_bad_cursor(conn, cursor):
    with pytest.raises(BadCursor):
        await search_records(conn, SearchFilters(text="有限", cursor=cursor), OPERATOR)
