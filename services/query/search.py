"""Record search for the query API: filters, the caller's scope, keyset (cursor) pagination.

Text search matches title, applicant name, item name and archival code as case-insensitive substrings,
served by the character-bigram GIN index (`records.search_terms`, migration 0006):

- one character: the bigrams that start with it (a prefix query). Every occurrence of a character in the
  indexed text starts a bigram except the text's very last character, which is the last digit of the
  archival code (the item number) — so this is exact for anything but a digit, and a digit, found in
  nearly every record anyway, is an ILIKE while walking the newest-first index;
- two characters: that one bigram, which is exact (the text is stripped, so it holds no space and the
  bigram cannot straddle two fields of the indexed text);
- three or more: every bigram of the text must be present, then ILIKE checks the substring exactly.

Lower-casing follows PostgreSQL's `lower()` (`fold_case`), so the bigrams asked for are the ones indexed.

Dates (`completed_from`, `completed_to`) are calendar days in China Standard Time, whatever the database
session's time zone.

Results are newest completion first (`completed_at DESC, case_key DESC`), which is stable under
inserts and lets the cursor be the last row's (completed_at, case_key): a page costs the same at
any depth, unlike OFFSET. A cursor also carries a digest of the filters it was made for, so it cannot be
replayed against another search.

A page is looked for in windows of growing depth, so that a word common in the archive but absent from a
department costs milliseconds, not a walk through the department (`search_records` says why and how);
docs/benchmarks.md has the figures over a million records.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg

from services.common.china_time import CHINA_STANDARD_TIME
from services.query.access import Caller

LIST_COLUMNS = (
    "case_key",
    "archival_code",
    "case_title",
    "applicant_name",
    "applicant_type",
    "applicant_id_type",
    "applicant_id_number",
    "source_platform",
    "item_code",
    "item_name",
    "department_code",
    "department_name",
    "completed_at",
    "archived_at",
    "result",
    "certificate_number",
    "retention",
    "category_code",
    "security_level",
    "sharing_level",
    "file_count",
    "total_bytes",
)

MAX_PAGE = 200

# Approval dates are calendar days where the cases are decided (services/common/china_time.py); the
# database session's TimeZone (UTC on the local stack) must not decide which day 07:00 in Beijing belongs to.


class BadCursor(ValueError):
    """The cursor was not one this service handed out (or the filters changed under it). The message says
    which; the caller adds what to do (the API answers 400 "…; start again without a cursor")."""


@dataclass(frozen=True)
class SearchFilters:
    """What the caller asked for; every given filter must hold."""

    text: str | None = None
    item_code: str | None = None
    department_code: str | None = None
    source_platform: str | None = None
    applicant_id_number: str | None = None
    completed_from: date | None = None  # inclusive, a calendar day in China Standard Time
    completed_to: date | None = None  # inclusive (the whole day), China Standard Time
    retention: str | None = None
    category_code: str | None = None
    # Default: the newest archived revision of each case number (a correction supersedes what it corrects).
    all_revisions: bool = False
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class SearchPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def filters_digest(filters: SearchFilters) -> str:
    """What a cursor is bound to: every filter but the page size and the cursor itself."""
    fields = {**asdict(filters), "text": (filters.text or "").strip()}
    chosen = {k: v for k, v in fields.items() if k not in ("limit", "cursor") and v not in (None, "", False)}
    canonical = json.dumps(chosen, default=str, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(completed_at: datetime, case_key: str, filters: SearchFilters | None = None) -> str:
    digest = filters_digest(filters or SearchFilters())
    raw = json.dumps([completed_at.isoformat(), case_key, digest], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: SearchFilters | None = None) -> tuple[datetime, str]:
    """The (completed_at, case_key) a cursor points after; BadCursor if it is not one `encode_cursor` made
    for these filters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, key, digest = json.loads(raw)
        after = datetime.fromisoformat(stamp)
        if after.tzinfo is None or not isinstance(key, str) or not key or not isinstance(digest, str):
            raise ValueError("incomplete cursor")
    except (ValueError, TypeError) as exc:
        raise BadCursor(f"cursor {cursor[:40]!r} is not one this service handed out") from exc
    if digest != filters_digest(filters or SearchFilters()):
        raise BadCursor("the cursor belongs to a search with other filters")
    return after, key


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in China Standard Time."""
    return datetime.combine(day, time(0), tzinfo=CHINA_STANDARD_TIME)


def fold_case(text: str) -> str:
    """`text` lower-cased as PostgreSQL's `lower()` does it (one character to one character), which is how
    the indexed bigrams were made. Python's `str.lower` differs in two ways: per string it turns a final
    Σ into ς, and İ (U+0130) becomes two characters; character by character, with the first of a longer
    mapping, it agrees with PostgreSQL on every code point (tests/integration/test_query_search.py)."""
    return "".join(c.lower()[0] for c in text)


def _lexeme(gram: str) -> str:
    # Quoted, with quotes and backslashes doubled: no character of the text has tsquery meaning.
    return "'" + gram.replace("\\", "\\\\").replace("'", "''") + "'"


def bigram_query(text: str) -> str | None:
    """The tsquery that requires every character bigram of `text` (None for fewer than two characters).
    Lexemes are quoted, so no character of the text has tsquery meaning."""
    s = fold_case(text)
    grams = sorted({s[i : i + 2] for i in range(len(s) - 1)})
    if not grams:
        return None
    return " & ".join(_lexeme(g) for g in grams)


def prefix_query(character: str) -> str:
    """The tsquery of every bigram that starts with `character`."""
    return _lexeme(fold_case(character)) + ":*"


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text_clauses(text: str, arg: Callable[[Any], str]) -> list[str]:
    if "\x00" in text:
        return ["false"]  # PostgreSQL text cannot hold NUL, so no record does
    if len(text) == 1 and not text.isdigit():
        return [f"search_terms @@ {arg(prefix_query(text))}::tsquery"]
    clauses = []
    tsquery = bigram_query(text)
    if tsquery is not None:
        clauses.append(f"search_terms @@ {arg(tsquery)}::tsquery")
    if len(text) != 2:
        pattern = arg(_like_pattern(text))
        clauses.append(
            f"(case_title ILIKE {pattern} OR applicant_name ILIKE {pattern} OR item_name ILIKE {pattern} "
            f"OR archival_code ILIKE {pattern})"
        )
    return clauses


class _Sql:
    """WHERE clauses and their $n arguments, built together."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _conditions(filters: SearchFilters, caller: Caller) -> _Sql:
    sql = _Sql()
    text = (filters.text or "").strip()
    if text:
        sql.clauses += _text_clauses(text, sql.arg)
    for column, value in [
        ("item_code", filters.item_code),
        ("department_code", filters.department_code),
        ("source_platform", filters.source_platform),
        ("applicant_id_number", filters.applicant_id_number),
        ("retention", filters.retention),
        ("category_code", filters.category_code),
    ]:
        if value:
            sql.clauses.append(f"{column} = {sql.arg(value)}")
    if filters.completed_from is not None:
        sql.clauses.append(f"completed_at >= {sql.arg(start_of_day(filters.completed_from))}")
    if filters.completed_to is not None:
        sql.clauses.append(f"completed_at < {sql.arg(start_of_day(filters.completed_to + timedelta(days=1)))}")

    if not filters.all_revisions:
        sql.clauses.append("superseded_by_revision IS NULL")

    # The caller's scope (services/query/access.py `in_scope` says the same in Python).
    if caller.policy.own_platform_only:
        sql.clauses.append(f"source_platform = {sql.arg(caller.platform_id)}")
    if caller.departments:
        sql.clauses.append(f"department_code = ANY({sql.arg(sorted(caller.departments))}::text[])")
    sql.clauses.append(f"sharing_level = ANY({sql.arg(sorted(caller.sharing_levels))}::text[])")
    sql.clauses.append(f"security_level = ANY({sql.arg(list(caller.security_levels))}::text[])")

    if filters.cursor:
        after_time, after_key = decode_cursor(filters.cursor, filters)
        sql.clauses.append(f"(completed_at, case_key) < ({sql.arg(after_time)}, {sql.arg(after_key)})")
    return sql


def _page_limit(filters: SearchFilters) -> int:
    return max(1, min(filters.limit, MAX_PAGE))


def build_search_sql(
    filters: SearchFilters,
    caller: Caller,
    columns: tuple[str, ...] = LIST_COLUMNS,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    rows: int | None = None,
    collect: bool = False,
) -> tuple[str, list]:
    """The SQL and arguments of one page: the filters, the caller's scope, the cursor, limit + 1 rows
    (the extra row tells whether there is a next page). BadCursor if the cursor is not this search's.

    `search_records` looks for a page in windows and uses the keyword arguments: `since` / `before` keep
    the records completed at or after / before a moment, `rows` overrides the row count, and `collect`
    makes PostgreSQL gather every match through its indexes and sort them, instead of walking a
    newest-first index until the page is full."""
    sql = _conditions(filters, caller)
    if since is not None:
        sql.clauses.append(f"completed_at >= {sql.arg(since)}")
    if before is not None:
        sql.clauses.append(f"completed_at < {sql.arg(before)}")
    selected, where = ", ".join(columns), " AND ".join(sql.clauses)
    order = "ORDER BY completed_at DESC, case_key DESC"
    limit = sql.arg(rows if rows is not None else _page_limit(filters) + 1)
    if collect:
        # OFFSET 0 keeps the subquery a planning unit of its own: planned without the ORDER BY … LIMIT,
        # it is planned for all its rows, so its estimate cannot make a newest-first walk look cheap.
        text = f"SELECT {selected} FROM (SELECT {selected} FROM records WHERE {where} OFFSET 0) AS matches"
    else:
        text = f"SELECT {selected} FROM records WHERE {where}"
    return f"{text} {order} LIMIT {limit}", sql.args


# A page is looked for among the newest 2 000 records of the narrowest index the search names (item,
# department or platform, else all records), then the next 18 000, then the rest; see search_records.
WINDOWS = (2_000, 20_000)


def _window_column(filters: SearchFilters, caller: Caller) -> tuple[str, str] | None:
    if filters.item_code:
        return "item_code", filters.item_code
    if filters.department_code:
        return "department_code", filters.department_code
    if len(caller.departments) == 1:
        return "department_code", next(iter(caller.departments))
    if caller.policy.own_platform_only and caller.platform_id:
        return "source_platform", caller.platform_id
    if filters.source_platform:
        return "source_platform", filters.source_platform
    return None


def window_floor_sql(filters: SearchFilters, caller: Caller, window: int = WINDOWS[0]) -> tuple[str, list]:
    """The completion time of the `window`-th newest record of the search's narrowest index, below the
    cursor and within the date range: an index-only walk of `window` entries."""
    sql = _Sql()
    column = _window_column(filters, caller)
    if column is not None:
        sql.clauses.append(f"{column[0]} = {sql.arg(column[1])}")
    if filters.completed_from is not None:
        sql.clauses.append(f"completed_at >= {sql.arg(start_of_day(filters.completed_from))}")
    if filters.completed_to is not None:
        sql.clauses.append(f"completed_at < {sql.arg(start_of_day(filters.completed_to + timedelta(days=1)))}")
    if filters.cursor:
        sql.clauses.append(f"completed_at <= {sql.arg(decode_cursor(filters.cursor, filters)[0])}")
    where = f"WHERE {' AND '.join(sql.clauses)} " if sql.clauses else ""
    return f"SELECT completed_at FROM records {where}ORDER BY completed_at DESC OFFSET {window - 1} LIMIT 1", sql.args


async def _fetch(conn: asyncpg.Connection, sql: str, args: list) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(sql, *args)]


# Custom plans (see search_records); no JIT; and room for exact bitmaps, which stop being exact (whole
# pages to recheck) past work_mem when a common word's bitmap is ANDed with a department's or platform's.
SESSION_SETTINGS = "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL jit = off; SET LOCAL work_mem = '32MB'"


@asynccontextmanager
async def _connection(conn: asyncpg.Pool | asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as acquired:
            yield acquired
    else:
        yield conn


async def search_records(conn: asyncpg.Pool | asyncpg.Connection, filters: SearchFilters, caller: Caller) -> SearchPage:
    """One page of records the caller may see, newest first, with the cursor of the next page.

    PostgreSQL estimates each condition on its own. For "department X and the word 运输" it multiplies
    the share of X by the share of 运输 and, expecting plenty of matches, walks X's records newest first
    until the page is full — through all of them, for seconds, when 运输 never occurs in X. So a page is
    looked for in windows of growing depth, each bounded whatever the estimates:

    1. among the newest 2 000 records of the narrowest index the search names (`window_floor_sql`), as
       PostgreSQL likes: a full page here is the answer, and common words and plain listings end here;
    2. among the next 18 000, then among the rest, with `collect`: every match of the window is
       gathered through the indexes (the bigram GIN index ANDed with the window's range, or with the
       department or platform index) and sorted — cheap, since matches are now known to be rare. When
       a window's density promises less than the rows still missing, the next window is skipped and the
       rest collected at once (each step scans the bigram index again; a rare name's page is all there).

    The steps run in one read-only REPEATABLE READ transaction (one snapshot), planned for their own
    values (`plan_cache_mode = force_custom_plan`: a prepared statement's generic plan ignores how common
    the word is), without JIT compilation (worth it for analytics, not for a 1 ms page) and with enough
    work_mem for exact bitmaps (SESSION_SETTINGS)."""
    limit = _page_limit(filters)
    wanted = limit + 1
    async with _connection(conn) as c:
        nested = c.is_in_transaction()
        async with c.transaction() if nested else c.transaction(isolation="repeatable_read", readonly=True):
            await c.execute(SESSION_SETTINGS)
            if filters.applicant_id_number:  # an ID number names a few records: the index finds them all
                rows = await _fetch(c, *build_search_sql(filters, caller))
            else:
                rows = await _windowed(c, filters, caller, wanted)
    if len(rows) <= limit:
        return SearchPage(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return SearchPage(rows, encode_cursor(last["completed_at"], last["case_key"], filters))


async def _windowed(c: asyncpg.Connection, filters: SearchFilters, caller: Caller, wanted: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    newer: datetime | None = None  # the floor of the window before: this one lies below it
    windows = list(WINDOWS)
    for step in range(len(windows) + 1):
        floor = None
        if step < len(windows):
            sql, args = window_floor_sql(filters, caller, windows[step])
            floor = await c.fetchval(sql, *args)
        found = await _fetch(
            c, *build_search_sql(filters, caller, since=floor, before=newer, rows=wanted - len(rows), collect=step > 0)
        )
        rows += found
        if len(rows) >= wanted or floor is None:  # a full page, or this window reached the oldest record
            return rows
        # At this window's density the next one would not fill the page either: go on with the rest at once
        # (each step costs a scan of the bigram index, and a rare word's page is all in the rest).
        deeper = step + 1 < len(windows)
        covered = windows[step] - (windows[step - 1] if step else 0)
        if deeper and len(found) * (windows[step + 1] - windows[step]) < (wanted - len(rows)) * covered:
            windows = windows[: step + 1]
        newer = floor
    return rows
