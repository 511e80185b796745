"""The search SQL builder without a server: bigram queries, text handling, the caller's scope, cursors.
What the SQL finds in a real database is tests/integration/test_query_search.py's business."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.common.china_time import CHINA_STANDARD_TIME
from services.query.access import Caller, Role
from services.query.search import (
    MAX_PAGE,
    SESSION_SETTINGS,
    WINDOWS,
    BadCursor,
    SearchFilters,
    bigram_query,
    build_search_sql,
    decode_cursor,
    encode_cursor,
    fold_case,
    prefix_query,
    search_records,
    window_floor_sql,
)

pytestmark = pytest.mark.unit

OPERATOR = Caller("k1", "运维", Role.OPERATOR, frozenset({"01", "02", "03"}))
SUPERVISION = Caller("k2", "监管", Role.SUPERVISION, frozenset({"02", "01"}), "公开", frozenset({"D2", "D1"}))
PLATFORM = Caller("k3", "平台", Role.PLATFORM, frozenset({"01"}), "内部", platform_id="market-regulation")


def where_of(sql: str) -> str:
    return sql.split(" WHERE ", 1)[1].split(" ORDER BY ", 1)[0]


def clause_of(sql: str, column: str) -> str | None:
    return next((c for c in where_of(sql).split(" AND ") if column in c), None)


# --- bigram_query ------------------------------------------------------------------------------------------


def test_bigram_query_requires_every_distinct_bigram_once_in_a_stable_order():
    assert bigram_query("食品") == "'食品'"
    assert bigram_query("食品安全") == "'品安' & '安全' & '食品'"
    assert bigram_query("哈哈哈哈") == "'哈哈'"
    assert bigram_query("食品安全") == bigram_query("食品安全")


def test_bigram_query_is_none_below_two_characters():
    assert bigram_query("") is None
    assert bigram_query("食") is None


def test_bigram_query_quotes_every_lexeme_so_no_character_is_an_operator():
    assert bigram_query("a'b") == "'''b' & 'a'''"
    assert bigram_query("a\\b") == "'\\\\b' & 'a\\\\'"
    query = bigram_query("!&|():*")
    assert query is not None
    # Outside the quotes only the AND operators remain.
    outside = re.sub(r"'(?:[^']|'')*'", "", query)
    assert set(outside) <= {" ", "&"}


def test_bigram_query_folds_case_like_postgresql():
    assert bigram_query("ABc") == "'ab' & 'bc'"
    assert bigram_query("ΣΑΣ") == "'ασ' & 'σα'"  # no final-sigma rule: lower() maps one character at a time
    assert fold_case("İx") == "ix"  # Python's 'İ'.lower() is two characters; PostgreSQL's is one
    assert fold_case("ＡＢＣ") == "ａｂｃ"


def test_prefix_query_matches_the_bigrams_starting_with_the_character():
    assert prefix_query("王") == "'王':*"
    assert prefix_query("Z") == "'z':*"
    assert prefix_query("'") == "'''':*"


# --- text in the SQL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["'; DROP TABLE records; --", "a\\b", "50%_", "a&b|!c", "云栖 科技", "$$ x"])
def test_text_reaches_the_database_only_as_arguments(text: str):
    sql, args = build_search_sql(SearchFilters(text=text), OPERATOR)
    assert text not in sql
    assert "'" not in sql and "$$" not in sql  # no literal of any kind: every value is a $n argument
    assert len(args) == 5  # the bigrams, the ILIKE pattern, two scope arrays, the limit


def test_one_character_is_a_prefix_query_without_ilike():
    sql, args = build_search_sql(SearchFilters(text="王"), OPERATOR)
    assert "search_terms @@ $1::tsquery" in sql and "ILIKE" not in sql
    assert args[0] == "'王':*"


def test_one_digit_is_an_ilike_because_archival_codes_end_with_one():
    sql, args = build_search_sql(SearchFilters(text="7"), OPERATOR)
    assert "search_terms" not in sql and "case_title ILIKE $1" in sql
    assert args[0] == "%7%"


def test_two_characters_are_one_bigram_and_nothing_else():
    sql, args = build_search_sql(SearchFilters(text=" 食品 "), OPERATOR)
    assert "search_terms @@ $1::tsquery" in sql and "ILIKE" not in sql
    assert args[0] == "'食品'"


def test_three_characters_or_more_are_bigrams_then_an_exact_ilike_on_four_columns():
    sql, args = build_search_sql(SearchFilters(text="有限公司"), OPERATOR)
    assert "search_terms @@ $1::tsquery" in sql
    for column in ("case_title", "applicant_name", "item_name", "archival_code"):
        assert f"{column} ILIKE $2" in sql
    assert args[:2] == ["'公司' & '有限' & '限公'", "%有限公司%"]


def test_like_wildcards_and_the_escape_character_are_literal():
    _, args = build_search_sql(SearchFilters(text="50%_a\\"), OPERATOR)
    assert args[1] == "%50\\%\\_a\\\\%"


def test_blank_text_is_no_text_filter():
    for text in ("", "   ", "\u3000\t"):
        sql, _ = build_search_sql(SearchFilters(text=text), OPERATOR)
        assert "search_terms" not in sql and "ILIKE" not in sql


def test_text_with_nul_matches_nothing_and_is_not_sent():
    sql, args = build_search_sql(SearchFilters(text="食\x00品"), OPERATOR)
    assert " WHERE false AND " in sql
    assert not any(isinstance(a, str) and "\x00" in a for a in args)


# --- filters and scope -------------------------------------------------------------------------------------


def test_every_filter_is_an_equality_or_a_date_bound():
    filters = SearchFilters(
        item_code="XK-1",
        department_code="D1",
        source_platform="transport",
        applicant_id_number="91330100MA2B3C4D5E",
        retention="Y",
        category_code="XK",
        completed_from=date(2026, 1, 1),
        completed_to=date(2026, 1, 31),
    )
    sql, args = build_search_sql(filters, OPERATOR)
    for column, value in [
        ("item_code", "XK-1"),
        ("department_code", "D1"),
        ("source_platform", "transport"),
        ("applicant_id_number", "91330100MA2B3C4D5E"),
        ("retention", "Y"),
        ("category_code", "XK"),
    ]:
        clause = clause_of(sql, f"{column} = ")
        assert clause is not None, column
        assert args[int(clause.split("$")[1]) - 1] == value
    # Calendar days in China Standard Time, whatever the session's time zone; the end day is inclusive.
    assert "completed_at >= $7" in sql and args[6] == datetime(2026, 1, 1, tzinfo=CHINA_STANDARD_TIME)
    assert args[6] == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert "completed_at < $8" in sql and args[7] == datetime(2026, 2, 1, tzinfo=CHINA_STANDARD_TIME)


def test_operator_scope_is_sharing_and_security_only():
    sql, args = build_search_sql(SearchFilters(), OPERATOR)
    assert "source_platform" not in where_of(sql) and "department_code" not in where_of(sql)
    assert args[:2] == [["01", "02", "03"], ["公开", "内部"]]


def test_supervision_scope_adds_its_departments_and_its_security_ceiling():
    sql, args = build_search_sql(SearchFilters(), SUPERVISION)
    assert "department_code = ANY($1::text[])" in sql
    assert args[:3] == [["D1", "D2"], ["01", "02"], ["公开"]]


def test_platform_scope_is_its_own_platform_even_when_it_asks_for_another():
    sql, args = build_search_sql(SearchFilters(source_platform="transport"), PLATFORM)
    assert "source_platform = $1" in sql and "source_platform = $2" in sql
    assert args[:2] == ["transport", "market-regulation"]


@pytest.mark.parametrize(("limit", "fetched"), [(0, 2), (1, 2), (20, 21), (MAX_PAGE, MAX_PAGE + 1), (10_000, 201)])
def test_the_page_size_is_clamped_and_one_extra_row_is_fetched(limit: int, fetched: int):
    sql, args = build_search_sql(SearchFilters(limit=limit), OPERATOR)
    assert sql.endswith(f"ORDER BY completed_at DESC, case_key DESC LIMIT ${len(args)}")
    assert args[-1] == fetched


# --- cursors -----------------------------------------------------------------------------------------------

AT = datetime(2026, 3, 5, 1, 30, tzinfo=UTC)


def test_a_cursor_points_after_the_last_row_of_its_search():
    filters = SearchFilters(text="食品", department_code="D1")
    cursor = encode_cursor(AT, "transport/JT-1/r1", filters)
    assert decode_cursor(cursor, filters) == (AT, "transport/JT-1/r1")
    sql, args = build_search_sql(SearchFilters(text="食品", department_code="D1", cursor=cursor, limit=5), OPERATOR)
    assert "(completed_at, case_key) < ($5, $6)" in sql
    assert args[4:6] == [AT, "transport/JT-1/r1"]


def test_a_cursor_survives_a_change_of_page_size_and_surrounding_blanks():
    cursor = encode_cursor(AT, "k", SearchFilters(text="食品", limit=5))
    assert decode_cursor(cursor, SearchFilters(text=" 食品 ", limit=50)) == (AT, "k")


def _b64(document: Any) -> str:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        _b64(b"\xff\xfe"),
        _b64("just a string"),
        _b64(42),
        _b64([AT.isoformat(), "k"]),  # the format before cursors named their search
        _b64(["yesterday", "k", "0" * 16]),
        _b64(["2026-03-05T01:30:00", "k", "0" * 16]),  # no time zone
        _b64([AT.isoformat(), 7, "0" * 16]),
        _b64([AT.isoformat(), "", "0" * 16]),
        _b64({"completed_at": AT.isoformat(), "case_key": "k", "digest": "x"}),
        _b64([AT.isoformat(), "k", "0" * 16]),  # well formed, but made for no search of ours
    ],
)
def test_a_forged_cursor_is_refused_with_bad_cursor(cursor: str):
    with pytest.raises(BadCursor) as caught:
        build_search_sql(SearchFilters(cursor=cursor), OPERATOR)
    assert "cursor" in str(caught.value) and ("handed out" in str(caught.value) or "other filters" in str(caught.value))


def test_a_cursor_of_another_search_is_refused():
    cursor = encode_cursor(AT, "k", SearchFilters(text="食品"))
    with pytest.raises(BadCursor):
        build_search_sql(SearchFilters(text="建设", cursor=cursor), OPERATOR)
    with pytest.raises(BadCursor):
        build_search_sql(SearchFilters(text="食品", department_code="D1", cursor=cursor), OPERATOR)


# --- search_records on a fake connection -------------------------------------------------------------------


class _Transaction:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeConnection:
    """Answers the window floors and the pages search_records asks for, in order, and records the SQL."""

    def __init__(self, floors: list[datetime | None], pages: list[list[dict[str, Any]]]) -> None:
        self.floors, self.pages = list(floors), list(pages)
        self.statements: list[str] = []
        self.transactions: list[dict[str, Any]] = []

    def is_in_transaction(self) -> bool:
        return False

    def transaction(self, **options: Any) -> Any:
        self.transactions.append(options)
        return _Transaction()

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append(sql)
        return "SET"

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return self.floors.pop(0)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.statements.append(sql)
        return self.pages.pop(0)[: args[-1]]

    @property
    def pages_asked(self) -> list[str]:
        return [s for s in self.statements if s.startswith("SELECT case_key")]


def _rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"completed_at": AT, "case_key": f"p/c-{i:03d}/r1"} for i in range(start + n, start, -1)]


async def test_a_full_page_has_a_cursor_after_its_last_row():
    filters = SearchFilters(text="食品", limit=3)
    conn = FakeConnection([None], [_rows(5)])
    page = await search_records(conn, filters, OPERATOR)  # type: ignore[arg-type]
    assert [r["case_key"] for r in page.rows] == ["p/c-005/r1", "p/c-004/r1", "p/c-003/r1"]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor, filters) == (AT, "p/c-003/r1")


async def test_the_last_page_has_no_cursor():
    conn = FakeConnection([None], [_rows(3)])
    page = await search_records(conn, SearchFilters(limit=3), OPERATOR)  # type: ignore[arg-type]
    assert len(page.rows) == 3 and page.next_cursor is None


async def test_a_search_runs_in_one_read_only_snapshot_with_custom_plans():
    conn = FakeConnection([None], [_rows(3)])
    await search_records(conn, SearchFilters(text="食品"), OPERATOR)  # type: ignore[arg-type]
    assert conn.transactions == [{"isolation": "repeatable_read", "readonly": True}]
    assert conn.statements[0] == SESSION_SETTINGS
    assert "plan_cache_mode = force_custom_plan" in SESSION_SETTINGS and "jit = off" in SESSION_SETTINGS


async def test_when_the_first_window_holds_everything_the_page_is_one_plain_query():
    conn = FakeConnection([None], [_rows(2)])
    await search_records(conn, SearchFilters(text="食品"), OPERATOR)  # type: ignore[arg-type]
    [page] = conn.pages_asked
    assert "OFFSET 0" not in page and "completed_at >= $" not in page


async def test_a_full_page_in_the_newest_window_ends_the_search_there():
    floor = datetime(2026, 3, 1, tzinfo=UTC)
    conn = FakeConnection([floor], [_rows(21)])
    page = await search_records(conn, SearchFilters(text="食品"), OPERATOR)  # type: ignore[arg-type]
    [first] = conn.pages_asked
    assert "OFFSET 0" not in first  # the newest window is PostgreSQL's own plan
    assert len(page.rows) == 20 and page.next_cursor is not None
    assert conn.floors == [] and len(conn.statements) == 3  # settings, one floor, one page


async def test_a_short_window_goes_on_collecting_in_the_older_ones_until_the_page_is_full():
    floors = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)]
    conn = FakeConnection(floors, [_rows(4, 100), _rows(5, 50), _rows(30)])
    page = await search_records(conn, SearchFilters(text="食品"), OPERATOR)  # type: ignore[arg-type]
    first, second, rest = conn.pages_asked
    assert "completed_at >= $" in first and "OFFSET 0" not in first
    assert "completed_at >= $" in second and "completed_at < $" in second and "OFFSET 0" in second
    assert "completed_at >= $" not in rest and "completed_at < $" in rest and "OFFSET 0" in rest
    # In order: the newest window's rows, then the next window's, then the rest's.
    assert [r["case_key"] for r in page.rows[:9]] == [r["case_key"] for r in _rows(4, 100) + _rows(5, 50)]
    assert len(page.rows) == 20 and page.next_cursor is not None


async def test_the_older_windows_ask_only_for_the_rows_still_missing():
    floors = [datetime(2026, 3, 1, tzinfo=UTC), None]
    conn = FakeConnection(floors, [_rows(4, 100), _rows(30)])
    page = await search_records(conn, SearchFilters(text="食品", limit=10), OPERATOR)  # type: ignore[arg-type]
    assert len(conn.pages_asked) == 2  # no floor of the second window: it already reaches the oldest record
    assert len(page.rows) == 10 and [r["case_key"] for r in page.rows[:4]] == [r["case_key"] for r in _rows(4, 100)]


async def test_an_empty_newest_window_skips_to_the_rest_at_once():
    conn = FakeConnection([datetime(2026, 3, 1, tzinfo=UTC)], [[], _rows(3)])
    page = await search_records(conn, SearchFilters(text="杭州云栖科技有限公司"), OPERATOR)  # type: ignore[arg-type]
    _, rest = conn.pages_asked
    assert "completed_at >= $" not in rest and "completed_at < $" in rest and "OFFSET 0" in rest
    assert conn.floors == [] and sum("OFFSET" in s and "LIMIT 1" in s for s in conn.statements) == 1
    assert len(page.rows) == 3


async def test_an_id_number_is_found_in_one_query_without_windows():
    conn = FakeConnection([], [_rows(3)])
    await search_records(conn, SearchFilters(applicant_id_number="91330100MA2B3C4D5E"), OPERATOR)  # type: ignore[arg-type]
    assert len(conn.pages_asked) == 1 and not any("OFFSET 1999" in s for s in conn.statements)


def test_the_window_follows_the_narrowest_index_the_search_names():
    def window_of(filters: SearchFilters, caller: Caller) -> str:
        return window_floor_sql(filters, caller)[0].split(" WHERE ")[1].split(" ORDER BY ")[0]

    assert window_of(SearchFilters(item_code="XK-1", department_code="D1"), OPERATOR).startswith("item_code = $1")
    assert window_of(SearchFilters(department_code="D1"), PLATFORM).startswith("department_code = $1")
    assert window_of(SearchFilters(), PLATFORM).startswith("source_platform = $1")
    one_department = Caller("k4", "监管", Role.SUPERVISION, frozenset({"01"}), "公开", frozenset({"D9"}))
    assert window_of(SearchFilters(), one_department) == "department_code = $1"
    sql, _ = window_floor_sql(SearchFilters(), OPERATOR)
    assert " WHERE " not in sql and sql.endswith(f"OFFSET {WINDOWS[0] - 1} LIMIT 1")
