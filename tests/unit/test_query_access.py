"""Access rules without servers: docs/access.md's tables agree with the policy in services/query/access.py
and with the permission each route of create_app() demands; keys are judged right (wrong secret, revoked,
expired); ID numbers are masked in what leaves the service and in what it writes down."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from archivectl.commands.access import _default_sharing, parse_expiry
from services.classification.review import check_values
from services.query.access import POLICY, Caller, Permission, Role
from services.query.adapters.api_keys import judge, parse_key, secret_digest
from services.query.app import create_app
from services.query.auth import mask_identifiers, mask_query, masked_query_string
from services.query.routes.files import content_disposition, repr_digest
from services.query.routes.present import disclosed_row, hide_id

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
PERSON_ID = "110101199003071234"
USCC = "91330100MA2B3C4D5E"


def _table(marker: str) -> dict[str, dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(rf"<!-- access-matrix:{marker} -->\n(.*?)<!-- /access-matrix:{marker} -->", text, re.S)
    assert block
    lines = block.group(1).strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, [c.strip() for c in line.strip("|").split("|")], strict=True)) for line in lines[2:]]
    return {row[header[0]]: row for row in rows}


def _route_permissions() -> dict[str, str]:
    """endpoint → the permission its require() dependency demands ("-" for none)."""
    found = {}
    for route in iter_route_contexts(create_app().routes):
        dependant = cast(APIRoute, route.original_route).dependant  # iter_route_contexts yields API routes
        permissions: set[Any] = {
            getattr(d.call, "permission", None) for d in dependant.dependencies if hasattr(d.call, "permission")
        }
        assert len(permissions) <= 1, route.path
        for method in route.methods or ():
            found[f"{method} {route.path}"] = next(iter(permissions)).value if permissions else "-"
    return found


def test_the_endpoint_table_says_what_the_routes_and_the_policy_do():
    table = _table("endpoints")
    routes = _route_permissions()
    assert set(routes) == set(table)
    for endpoint, row in table.items():
        assert row["permission"] == routes[endpoint], f"{endpoint}: the route demands {routes[endpoint]}"
        for role in Role:
            if row["permission"] == "-":
                expected = "allow"
            else:
                expected = "allow" if Permission(row["permission"]) in POLICY[role].permissions else "deny"
            assert row[role.value] == expected, f"{endpoint} for {role.value}"


def test_the_sharing_table_says_what_each_role_may_be_granted():
    table = _table("sharing")
    for role in Role:
        row = table[role.value]
        assert {level for level in ("01", "02", "03") if row[level] == "allow"} == POLICY[role].grantable_sharing
        assert row["default grant"] == ",".join(_default_sharing(role.value))


# --- keys --------------------------------------------------------------------------------------------------

SECRET = "ab" * 32
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _row(**overrides: Any) -> dict[str, Any]:
    row = {
        "key_id": "k3v9x0q2m7ab",
        "secret_sha256": secret_digest(SECRET),
        "name": "市场监管事中事后监管系统",
        "role": "supervision",
        "departments": [],
        "sharing_levels": ["01", "02"],
        "max_security": "内部",
        "platform_id": None,
        "expires_at": None,
        "revoked_at": None,
    }
    return row | overrides


def test_a_valid_key_gives_its_caller():
    check = judge(_row(), "k3v9x0q2m7ab", SECRET, NOW)
    assert check.caller == Caller(
        key_id="k3v9x0q2m7ab",
        name="市场监管事中事后监管系统",
        role=Role.SUPERVISION,
        sharing_levels=frozenset({"01", "02"}),
    )


@pytest.mark.parametrize(
    ("row", "secret", "reason"),
    [
        (_row(), "cd" * 32, "unknown key id or wrong secret"),
        (None, SECRET, "unknown key id or wrong secret"),
        (_row(revoked_at=NOW - timedelta(hours=1)), SECRET, "was revoked at 2026-11-24 23:00:00+0000"),
        (_row(expires_at=NOW - timedelta(seconds=1)), SECRET, "expired at"),
        (_row(expires_at=NOW), SECRET, "expired at"),
    ],
)
def test_refused_keys_say_why(row, secret, reason):
    check = judge(row, "k3v9x0q2m7ab", secret, NOW)
    assert check.caller is None and reason in (check.reason or "")
    assert check.key_id == "k3v9x0q2m7ab"


def test_a_key_not_yet_expired_works_and_a_scope_beyond_the_role_is_not_honoured():
    assert judge(_row(expires_at=NOW + timedelta(seconds=1)), "k3v9x0q2m7ab", SECRET, NOW).caller is not None
    edited = judge(_row(sharing_levels=["01", "02", "03"]), "k3v9x0q2m7ab", SECRET, NOW).caller
    assert edited is not None and edited.sharing_levels == frozenset({"01", "02"})


def test_key_format():
    assert parse_key(f"aa_k3v9x0q2m7ab_{SECRET}") == ("k3v9x0q2m7ab", SECRET)
    for bad in ("", "aa_k3v9_" + SECRET, f"aa_K3V9X0Q2M7AB_{SECRET}", f"aa_k3v9x0q2m7ab_{SECRET}0", f"k3v9_{SECRET}"):
        assert parse_key(bad) is None, bad


def test_expiry_dates_cover_the_whole_day():
    end = parse_expiry("2027-06-30")
    assert end.tzinfo is not None and (end.year, end.month, end.day, end.hour) == (2027, 7, 1, 0)
    assert parse_expiry("2027-06-30T12:00:00+08:00") == datetime(2027, 6, 30, 4, tzinfo=UTC)
    with pytest.raises(ValueError, match="--expires"):
        parse_expiry("next tuesday")


# --- masking -------------------------------------------------------------------------------------------------


def test_id_numbers_are_masked_in_query_strings_for_logs_and_the_audit_log():
    assert mask_query({"applicant_id": PERSON_ID, "q": "食品"}) == {"applicant_id": "110*************34", "q": "食品"}
    assert mask_query({"applicant_id": "12345"}) == {"applicant_id": "*****"}
    assert mask_identifiers(f"王芳 {PERSON_ID} 申请") == "王芳 110*************34 申请"
    assert mask_identifiers(f"code {USCC}.") == "code 913*************5E."
    assert mask_identifiers("11010119900307123X") == "110*************3X"
    # digests, archival codes and ordinary words are left alone
    for text in ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "Z109-XK·2026-D10-SCJG-0001"):
        assert mask_identifiers(text) == text
    assert masked_query_string(f"applicant_id={PERSON_ID}&limit=5".encode()) == (
        "applicant_id=110*************34&limit=5"
    )
    assert PERSON_ID not in masked_query_string(f"q={PERSON_ID}")


def _caller(role: Role) -> Caller:
    return Caller(key_id="k", name="n", role=role, sharing_levels=frozenset({"01"}))


ROW = {
    "case_key": "market-regulation/SCJG-2026-000001/r1",
    "applicant_id_number": PERSON_ID,
    "applicant_id_type": "resident_id",
    "applicant_type": "person",
    "completed_at": datetime(2026, 3, 2, tzinfo=UTC),
    "archived_event": {"secret": PERSON_ID},
}


@pytest.mark.parametrize(
    ("role", "person", "organisation"),
    [
        (Role.OPERATOR, "110*************34", "913*************5E"),
        (Role.AUDITOR, PERSON_ID, USCC),
        (Role.SUPERVISION, "110*************34", USCC),
        (Role.PLATFORM, "110*************34", "913*************5E"),
    ],
)
def test_rows_leave_with_id_numbers_as_the_role_may_see_them(role, person, organisation):
    caller = _caller(role)
    shown = disclosed_row(ROW, caller)
    assert shown["applicant_id_number"] == person
    assert "archived_event" not in shown, "the raw event (full ID number) never leaves"
    assert shown["completed_at"] == "2026-03-02T00:00:00+00:00"
    org = {**ROW, "applicant_id_number": USCC, "applicant_id_type": "uscc", "applicant_type": "organisation"}
    assert disclosed_row(org, caller)["applicant_id_number"] == organisation


def test_quoted_id_numbers_in_nested_details_are_replaced():
    body = {"checks": [{"details": {"id": PERSON_ID, "text": f"身份证 {PERSON_ID} 有效"}}], "n": 3}
    hidden = hide_id(body, PERSON_ID, "110*************34")
    assert PERSON_ID not in str(hidden) and hidden["n"] == 3


# --- downloads and reviews ------------------------------------------------------------------------------------


def test_download_headers():
    assert content_disposition("准予许可决定书.pdf") == (
        "attachment; filename=\"_______.pdf\"; filename*=UTF-8''"
        "%E5%87%86%E4%BA%88%E8%AE%B8%E5%8F%AF%E5%86%B3%E5%AE%9A%E4%B9%A6.pdf"
    )
    assert 'filename="a_b.pdf"' in content_disposition('a"b.pdf')
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # sha256("test")
    assert repr_digest(digest) == "sha-256=:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=:"


def test_review_values_refuse_unknown_names():
    assert check_values({"retention": " D10 ", "organisation": "SCJG"}) == {"retention": "D10", "organisation": "SCJG"}
    with pytest.raises(ValueError, match="unknown value"):
        check_values({"colour": "red"})
