"""Dialect mapping files: every dialect of a sample case maps back to the same unified record."""

import pytest

from samples.dialects import DIALECTS, render
from samples.generator import generate_cases
from services.capture.dialect import MappingError, load_dialects, parse_dialect

pytestmark = pytest.mark.unit

DIALECT_TABLE = load_dialects()
CASES = generate_cases(12, seed=3030, wrong_digest_every=None)
URL = "http://files.example/{case}/{name}"


def _url(material):  # type: ignore[no-untyped-def]
    return URL.format(case="c", name=material.file_name)


def _comparable(record, *, drop_declarations: bool):  # type: ignore[no-untyped-def]
    data = record.model_dump(mode="json")
    if drop_declarations:  # the generic form declares nothing but name and URL
        data["materials"] = [
            {"material_name": m["material_name"], "file_name": m["file_name"]} for m in data["materials"]
        ]
    else:
        for m in data["materials"]:
            m.pop("url", None)
            m.pop("content_base64", None)
    return data


def test_every_dialect_file_loads_and_names_a_known_dialect():
    # the paper catalogue (legacy-catalogue/1) is no platform payload: tests/unit/test_legacy_import.py has it
    assert set(DIALECT_TABLE) == {*DIALECTS, "legacy-catalogue/1"}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.record.case_number)
def test_each_dialect_maps_back_to_the_same_unified_record(dialect, case):
    payload = render(case.record, dialect, file_url=_url)
    mapped = DIALECT_TABLE[dialect].map(payload, case.record.source_platform)
    generic = dialect == "generic-form/1"
    assert _comparable(mapped, drop_declarations=generic) == _comparable(case.record, drop_declarations=generic)
    if generic:
        assert all(m.url and m.url.endswith(m.file_name) for m in mapped.materials)
        assert [m.stage for m in mapped.materials] == [m.stage for m in case.record.materials]


def test_unknown_codes_and_missing_fields_are_named():
    payload = render(CASES[0].record, "scjg-registration/2024")
    payload["bjjg"] = "7"
    del payload["sqr"]["mc"]
    payload["slsj"] = "2026/03/02"
    with pytest.raises(MappingError) as caught:
        DIALECT_TABLE["scjg-registration/2024"].map(payload, "market-regulation")
    problems = " | ".join(caught.value.problems)
    assert "result: value '7' is not one of" in problems
    assert "applicant.name: missing (expected at 'sqr.mc')" in problems
    assert "accepted_at: '2026/03/02' does not match the date format" in problems


def test_the_unified_dialect_must_come_from_the_platform_it_names():
    payload = render(CASES[0].record, "unified/v1")
    with pytest.raises(MappingError, match="is not the sending platform"):
        DIALECT_TABLE["unified/v1"].map(payload, "someone-else")


def test_a_mapping_file_with_an_unknown_transform_is_refused():
    with pytest.raises(ValueError, match="unknown transform 'shout'"):
        parse_dialect("dialect: x/1\nrecord:\n  case_number: {path: a, transform: [shout]}\n", "x.yaml")
