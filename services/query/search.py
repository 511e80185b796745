"""Record search for the query API: filters, the caller's scope, keyset (cursor) pagination.

Text search matches title, applicant name, item name and archival code as substrings. Two characters
or more go through the character-bigram GIN index (`records.search_terms`, migration 0006) — every
bigram of the text must be present — and are then checked exactly with ILIKE; one character is an
ILIKE on its own (served by walking the newest-first index until the page is full).

Results are newest completion first (`completed_at DESC, case_key DESC`), which is stable under
inserts and lets the cursor be the last row's (completed_at, case_key): a page costs the same at
any depth, unlike OFFSET.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

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


class BadCursor(ValueError):
    """The cursor was not one this service handed out (or the filters changed under it)."""


@dataclass(frozen=True)
class SearchFilters:
    """What the caller asked for; every given filter must hold."""

    text: str | None = None
    item_code: str | None = None
    department_code: str | None = None
    source_platform: str | None = None
    applicant_id_number: str | None = None
    completed_from: date | None = None  # inclusive
    completed_to: date | None = None  # inclusive (the whole day)
    retention: str | None = None
    category_code: str | None = None
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class SearchPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(completed_at: datetime, case_key: str) -> str:
    raw = json.dumps([completed_at.isoformat(), case_key], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, key = json.loads(raw)
        return datetime.fromisoformat(stamp), str(key)
    except (ValueError, TypeError) as exc:
        raise BadCursor(f"cursor {cursor[:40]!r} is not one this service handed out") from exc


def bigram_query(text: str) -> str | None:
    """The tsquery that requires every character bigram of `text` (None for fewer than two characters).
    Lexemes are quoted, so no character of the text has tsquery meaning."""
    s = text.lower()
    grams = sorted({s[i : i + 2] for i in range(len(s) - 1)})
    if not grams:
        return None
    return " & ".join("'" + g.replace("\\", "\\\\").replace("'", "''") + "'" for g in grams)


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def build_search_sql(
    filters: SearchFilters, caller: Caller, columns: tuple[str, ...] = LIST_COLUMNS
) -> tuple[str, list]:
    """The SQL and arguments of one page: the filters, the caller's scope, the cursor, limit + 1 rows
    (the extra row tells whether there is a next page)."""
    clauses: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    text = (filters.text or "").strip()
    if text:
        tsquery = bigram_query(text)
        if tsquery is not None:
            clauses.append(f"search_terms @@ {arg(tsquery)}::tsquery")
        pattern = arg(_like_pattern(text))
        clauses.append(
            f"(case_title ILIKE {pattern} OR applicant_name ILIKE {pattern} OR item_name ILIKE {pattern} "
            f"OR archival_code ILIKE {pattern})"
        )
    for column, value in [
        ("item_code", filters.item_code),
        ("department_code", filters.department_code),
        ("source_platform", filters.source_platform),
        ("applicant_id_number", filters.applicant_id_number),
        ("retention", filters.retention),
        ("category_code", filters.category_code),
    ]:
        if value:
            clauses.append(f"{column} = {arg(value)}")
    if filters.completed_from is not None:
        clauses.append(f"completed_at >= {arg(filters.completed_from)}::date")
    if filters.completed_to is not None:
        clauses.append(f"completed_at < ({arg(filters.completed_to)}::date + 1)")

    # The caller's scope (services/query/access.py `in_scope` says the same in Python).
    if caller.policy.own_platform_only:
        clauses.append(f"source_platform = {arg(caller.platform_id)}")
    if caller.departments:
        clauses.append(f"department_code = ANY({arg(sorted(caller.departments))}::text[])")
    clauses.append(f"sharing_level = ANY({arg(sorted(caller.sharing_levels))}::text[])")
    clauses.append(f"security_level = ANY({arg(list(caller.security_levels))}::text[])")

    if filters.cursor:
        after_time, after_key = decode_cursor(filters.cursor)
        clauses.append(f"(completed_at, case_key) < ({arg(after_time)}, {arg(after_key)})")

    limit = max(1, min(filters.limit, MAX_PAGE))
    sql = (
        f"SELECT {', '.join(columns)} FROM records WHERE {' AND '.join(clauses)} "
        f"ORDER BY completed_at DESC, case_key DESC LIMIT {arg(limit + 1)}"
    )
    return sql, args


async def search_records(conn: asyncpg.Pool | asyncpg.Connection, filters: SearchFilters, caller: Caller) -> SearchPage:
    """One page of records the caller may see, newest first, with the cursor of the next page."""
    sql, args = build_search_sql(filters, caller)
    rows = [dict(r) for r in await conn.fetch(sql, *args)]
    limit = max(1, min(filters.limit, MAX_PAGE))
    if len(rows) <= limit:
        return SearchPage(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return SearchPage(rows, encode_cursor(last["completed_at"], last["case_key"]))
