"""How rows leave the service: JSON-ready values, ID numbers disclosed as the caller's role allows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from services.query.access import Caller, disclose_id
from services.query.search import CHINA_STANDARD_TIME

RECORD_FIELDS = (
    "case_key",
    "archival_code",
    "case_title",
    "applicant_name",
    "applicant_type",
    "applicant_id_type",
    "applicant_id_number",
    "source_platform",
    "case_number",
    "revision",
    "region_code",
    "item_code",
    "item_name",
    "department_code",
    "department_name",
    "accepted_at",
    "completed_at",
    "archived_at",
    "result",
    "certificate_number",
    "retention",
    "category_code",
    "class_code",
    "security_level",
    "sharing_level",
    "file_count",
    "total_bytes",
)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def disclosed_row(row: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
    """A record row (list or detail) with its applicant ID number as `caller` may see it."""
    out = {k: jsonable(v) for k, v in row.items() if k in RECORD_FIELDS}
    if row.get("applicant_id_number") is not None:
        out["applicant_id_number"] = disclose_id(
            caller, row["applicant_id_number"], row.get("applicant_id_type"), row.get("applicant_type")
        )
    return out


def hide_id(value: Any, id_number: str, shown: str) -> Any:
    """`value` (nested JSON) with every occurrence of the applicant's ID number replaced by `shown`: check
    details and preservation-event texts may quote it."""
    if id_number == shown or len(id_number or "") < 6:  # a very short "number" would match anywhere
        return value
    if isinstance(value, str):
        return value.replace(id_number, shown)
    if isinstance(value, Mapping):
        return {k: hide_id(v, id_number, shown) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hide_id(v, id_number, shown) for v in value]
    return value


_FIXED_TERM = re.compile(r"^D(\d{1,3})$")  # 定期N年: DA/T 22 writes the years into the code (D10, D30)


def retention_ends(retention: str | None, completed_at: datetime | None) -> str | None:
    """The day a fixed-term record's retention period ends: its completion day (China Standard Time) plus
    the years of its code, the same reckoning as the package lock (docs/packages.md). None for permanent
    (Y) and legacy periods, which have no end date."""
    term = _FIXED_TERM.match(retention or "")
    if term is None or completed_at is None:
        return None
    day = completed_at.astimezone(CHINA_STANDARD_TIME).date()
    years = int(term.group(1))
    try:
        return day.replace(year=day.year + years).isoformat()
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28).isoformat()
