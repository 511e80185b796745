"""The check engine (services/validation/checks/engine.py): the order results are reported in, the one
"does the file open" gate, and what the decorator refuses."""

from __future__ import annotations

import pytest

from contracts.v1 import Outcome, Property
from samples.defects import defect_corpus
from services.validation.checks import CATALOGUE
from services.validation.checks.engine import PDF_FILES, Scope, check
from services.validation.rules import RuleBook
from tests.unit.test_checks import _run

pytestmark = pytest.mark.unit


def test_the_catalogue_is_reported_property_by_property_in_the_contracts_order():
    order = list(Property)
    ranks = [order.index(c.property) for c in CATALOGUE.values()]
    assert ranks == sorted(ranks)
    assert {c.property for c in CATALOGUE.values()} == set(Property)


@pytest.fixture(scope="module")
def truncated_jpeg():  # type: ignore[no-untyped-def]
    [case] = [c for c in defect_corpus() if c.name == "truncated-jpeg"]  # built outside the event loop
    return case.record


async def test_a_file_that_does_not_open_fails_usab_opens_once_and_the_checks_that_need_it_do_not_run(truncated_jpeg):
    # USAB-OPENS as a warning, so the case travels on and its event carries every check's outcome.
    out = await _run(truncated_jpeg, rules=RuleBook.from_mapping({"defaults": {"severity": {"USAB-OPENS": "warn"}}}))
    warned = [c for c in out.event.data.checks if c.outcome is Outcome.WARN]
    assert [c.code for c in warned] == ["USAB-OPENS"]
    broken = warned[0].file_name
    needing = {code for code, c in CATALOGUE.items() if c.needs_open}
    assert {"USAB-SCAN-DPI", "USAB-SCAN-BLUR", "INTEG-PAGE-COUNT"} <= needing
    on_broken = [c for c in out.event.data.checks if c.file_name == broken and c.code in needing]
    assert on_broken and all(c.outcome is Outcome.NOT_RUN for c in on_broken)
    for code in ("USAB-SCAN-DPI", "USAB-SCAN-BLUR"):  # no condition comes before the gate for these
        [result] = [c for c in on_broken if c.code == code]
        assert result.details["not_run"] == "the file does not open (USAB-OPENS)"


def test_a_code_cannot_be_registered_twice():
    before = dict(CATALOGUE)
    with pytest.raises(ValueError, match="USAB-EMPTY"):
        check("USAB-EMPTY", Property.USABILITY, examines="", examines_zh="", reason_zh="", reason_en="", basis="")
    assert CATALOGUE == before


def test_a_case_check_cannot_ask_for_file_conditions():
    with pytest.raises(ValueError, match="case check"):
        check(
            "TEST-CASE-WITH-KINDS",
            Property.INTEGRITY,
            examines="",
            examines_zh="",
            reason_zh="",
            reason_en="",
            basis="",
            scope=Scope.CASE,
            kinds=PDF_FILES,
        )
    assert "TEST-CASE-WITH-KINDS" not in CATALOGUE
