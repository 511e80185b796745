"""Classification by the retention schedule: the file's checks, rule evaluation, the review queue —
with in-memory fakes. Expected values are read from the schedule file itself, never copied here."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import derived_event_id
from contracts.v1 import CheckResult, ValidatedCase, ValidatedEvent, topics
from samples.generator import generate_cases
from services.classification.config import bundled_schedule_file
from services.classification.domain import OrganisationCodes
from services.classification.schedule import ScheduleError, globs_intersect, load_schedule_file, parse_schedule
from services.classification.steps import manual_decision, record_decision
from tests.factories import record
from tests.fakes import InMemoryClassificationStore, classification_step

pytestmark = pytest.mark.unit

SCHEDULE_FILE = bundled_schedule_file()
SCHEDULE = load_schedule_file(SCHEDULE_FILE)
RAW = yaml.safe_load(SCHEDULE_FILE.read_text(encoding="utf-8"))
ORGANISATIONS = OrganisationCodes(
    platforms={"market-regulation": "SCJG", "construction-permit": "ZJJ", "transport": "JTJ"}, departments={}
)


def expected_from_file(case) -> dict | None:  # type: ignore[no-untyped-def]
    """The file's own answer, read naively from the YAML: the matching rule of highest priority."""
    facts = {
        "result": case.result.value,
        "applicant_type": case.applicant.type.value,
        "applicant_id_type": case.applicant.id_type.value,
        "source_platform": case.source_platform,
        "region_code": case.region_code,
        "department_code": case.department_code,
    }
    matching = [
        rule
        for rule in RAW["rules"]
        if fnmatchcase(case.item_code, rule["item"])
        and rule.get("item_version") in (None, case.item_version)
        and all(
            facts[field] in ([want] if isinstance(want, str) else want) for field, want in rule.get("when", {}).items()
        )
    ]
    return max(matching, key=lambda r: r["priority"]) if matching else None


def validated_event(rec, event_id: str = "v-1") -> ValidatedEvent:  # type: ignore[no-untyped-def]
    return ValidatedEvent(
        id=event_id,
        source="urn:approval-archive:validation",
        type=topics.VALIDATED,
        time=datetime(2026, 11, 26, tzinfo=UTC),
        subject=rec.case_key,
        correlationid=f"corr-{rec.case_number}",
        data=ValidatedCase(
            case=rec.metadata(),
            files=[],
            checks=[CheckResult(code="AUTH-DIGEST-SHA256", property="authenticity", outcome="pass")],
            validated_at=datetime(2026, 11, 26, tzinfo=UTC),
        ),
    )


async def classify(event, store):  # type: ignore[no-untyped-def]
    return await (await classification_step(store, SCHEDULE, ORGANISATIONS))(event)


# --- the sample items land where the schedule file says ---------------------------------------------------


async def test_every_sample_item_lands_in_the_category_class_and_retention_the_file_says():
    cases = generate_cases(150, wrong_digest_every=None)
    items = {c.record.item_code for c in cases}
    assert items == set(RAW["items"]), "the sample covers every item of the schedule (and no other)"
    store = InMemoryClassificationStore()
    for sample in cases:
        expected = expected_from_file(sample.record)
        assert expected is not None, f"the schedule must cover sample case {sample.case_key}"
        [out] = await classify(validated_event(sample.record), store)
        got = out.event.data.classification
        assert (got.category_code, got.class_code, got.retention.value) == (
            expected["category"],
            expected["class"],
            expected["retention"],
        ), sample.case_key
        assert (got.security_level, got.sharing_level.value, got.rule_id) == (
            expected["security"],
            str(expected["sharing"]),
            expected["id"],
        )
        assert got.schedule_version == RAW["version"]
        assert f"-{got.category_code}·{got.year}-{got.retention.value}-" in got.archival_code
    assert store.reviews == {}
    # item numbers run 1..n in every series
    for series, last in store.series.items():
        numbers = sorted(a.item_number for k, a in store.codes.items() if _series_of(store, k) == series)
        assert numbers == list(range(1, last + 1))


def _series_of(store, case_key):  # type: ignore[no-untyped-def]
    c = store.classified[case_key]["data"]["classification"]
    from services.common.series import Series

    return Series(c["fonds_code"], c["category_code"], c["year"], c["retention"], c["organisation_code"])


# --- evaluation ------------------------------------------------------------------------------------------


def test_the_highest_priority_matching_rule_wins():
    person = record(
        item_code="XK-JTYS-001",
        item_name="道路货物运输经营许可",
        source_platform="transport",
        applicant={"name": "张伟", "type": "person", "id_type": "resident_id", "id_number": "330106199001011234"},
    )
    organisation = record(item_code="XK-JTYS-001", item_name="道路货物运输经营许可", source_platform="transport")
    assert SCHEDULE.evaluate(person).id == expected_from_file(person)["id"] == "JTYS-HY-GR"
    assert SCHEDULE.evaluate(organisation).id == expected_from_file(organisation)["id"] == "JTYS-HY-ZY"
    both = [r for r in SCHEDULE.rules if r.matches(person)]
    assert len(both) == 2 and SCHEDULE.evaluate(person).priority == max(r.priority for r in both)


def test_an_item_version_restricts_a_rule():
    rule = next(r for r in RAW["rules"] if r.get("item_version"))
    same = record(item_code=rule["item"], item_version=rule["item_version"])
    other = record(item_code=rule["item"], item_version="1999.9")
    assert SCHEDULE.evaluate(same).id == rule["id"]
    assert SCHEDULE.evaluate(other) is None


@settings(max_examples=300, deadline=None)
@given(st.text("ab*?", max_size=4), st.text("ab*?", max_size=4))
def test_glob_overlap_is_decided_exactly(a, b):
    witness_exists = any(
        fnmatchcase(s, a) and fnmatchcase(s, b)
        for n in range(len(a) + len(b) + 1)
        for s in ("".join(t) for t in itertools.product("ab", repeat=n))
    )
    assert globs_intersect(a, b) == witness_exists


# --- broken files are refused, naming the rule ------------------------------------------------------------


def _broken(edit) -> str:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(SCHEDULE_FILE.read_text(encoding="utf-8"))
    edit(doc)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _refusal(text: str) -> ScheduleError:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text, "broken.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("edit", "position", "says"),
    [
        (lambda d: d["rules"][2].pop("retention"), 3, "retention: missing field"),
        (lambda d: d["rules"][0].update(retention="D50"), 1, "retention"),
        (lambda d: d["rules"][1].update(category="ZZ"), 2, "unknown category 'ZZ'"),
        (lambda d: d["rules"][1].update({"class": "NOPE"}), 2, "unknown class 'NOPE'"),
        (lambda d: d["rules"][4].update(item="XK-WSJK-001"), 5, "unknown item code 'XK-WSJK-001'"),
        (lambda d: d["rules"][0].update(when={"colour": "red"}), 1, "when.colour: unknown field"),
        (lambda d: d["rules"][0].update(when={"result": "maybe"}), 1, "when.result: unknown value maybe"),
        (lambda d: d["rules"][0].update(sharing="04"), 1, "sharing"),
        (lambda d: d["rules"][0].update(security="绝对公开"), 1, "unknown security level"),
        (lambda d: d["rules"][3].update(id=d["rules"][0]["id"]), 4, "is used by rule 1 too"),
        (lambda d: d["rules"][7].update(priority=100), 8, "overlaps rule 7"),
        (lambda d: d["rules"][5].update(unexpected="x"), 6, "unexpected: Extra inputs are not permitted"),
    ],
)
def test_a_broken_rule_is_refused_with_the_rule_named(edit, position, says):
    doc = yaml.safe_load(SCHEDULE_FILE.read_text(encoding="utf-8"))
    rule_id = doc["rules"][position - 1]["id"]
    error = _refusal(_broken(edit))
    assert any(p.startswith(f"rule {position} (") and says in p for p in error.problems), error.problems
    assert any("line " in p for p in error.problems)
    assert rule_id in str(error) or "is used by" in says


def test_an_overlap_is_reported_only_for_equal_priorities():
    def same_priority_disjoint_results(d):  # type: ignore[no-untyped-def]
        d["rules"][6]["when"] = {"result": "approved"}
        d["rules"][7]["when"] = {"result": "partially_approved", "applicant_type": "person"}
        d["rules"][7]["priority"] = 100

    parse_schedule(_broken(same_priority_disjoint_results))  # exclusive conditions: accepted


def test_line_numbers_point_at_the_rule_in_the_file():
    text = SCHEDULE_FILE.read_text(encoding="utf-8").replace("retention: D10\n", "retention: D11\n", 1)
    error = _refusal(text)
    [problem] = error.problems
    line = int(problem.split("line ")[1].split(")")[0])
    assert text.splitlines()[line - 1].strip().startswith("- id:")
    assert "retention" in problem


def test_an_unquoted_version_gets_a_hint():
    error = _refusal(SCHEDULE_FILE.read_text(encoding="utf-8").replace('version: "2026.1"', "version: 2026.1"))
    assert any("write it in quotes" in p for p in error.problems)


def test_the_bundled_file_is_the_newest_version_and_parses():
    assert SCHEDULE_FILE.name == f"retention-schedule-{RAW['version']}.yaml"
    assert [r.id for r in SCHEDULE.rules] == [r["id"] for r in RAW["rules"]]
    assert Path(SCHEDULE_FILE).parent.name == "schedule"


# --- the step: review queue, manual decision, redelivery -------------------------------------------------


async def test_an_unmatched_case_waits_in_review_and_emits_nothing_until_a_person_decides():
    store = InMemoryClassificationStore()
    rec = record(case_number="WS-1", item_code="XK-WSJK-001", item_name="公共场所卫生许可")
    event = validated_event(rec)
    assert await classify(event, store) == []
    review = store.reviews[rec.case_key]
    assert review["status"] == "waiting"
    assert "XK-WSJK-001" in review["reason"] and RAW["version"] in review["reason"]
    assert await classify(validated_event(rec, "v-2"), store) == [], "redelivery while waiting: still nothing"

    decided_at = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    decision = manual_decision(
        schedule=SCHEDULE,
        decided_by="档案员 李娜",
        decided_at=decided_at,
        values={"retention": "D10", "category": "XK", "class": "BYXK", "security": "内部", "sharing": "03"},
    )
    released, created = await record_decision(
        ValidatedEvent.model_validate(review["validated_event"]),
        decision,
        store=store,
        fonds_code="Z109",
        organisations=ORGANISATIONS,
        review_decision={"values": "…"},
    )
    assert created
    c = released.data.classification
    assert (c.retention.value, c.class_code, c.sharing_level.value, c.rule_id) == ("D10", "BYXK", "03", "manual")
    assert c.decided_by == "档案员 李娜" and c.decided_at == decided_at
    assert c.archival_code == "Z109-XK·2026-D10-SCJG-0001"
    assert released.id == derived_event_id(topics.CLASSIFIED, rec.case_key)
    assert store.reviews[rec.case_key]["status"] == "decided"
    [again] = await classify(validated_event(rec, "v-3"), store)
    assert again.event.model_dump() == released.model_dump(), "after the decision a redelivery re-emits it"


async def test_picking_a_rule_in_review_uses_that_rules_values():
    store = InMemoryClassificationStore()
    rec = record(case_number="WS-2", item_code="XK-WSJK-001", item_name="公共场所卫生许可")
    await classify(validated_event(rec), store)
    rule = RAW["rules"][0]
    decision = manual_decision(schedule=SCHEDULE, decided_by="王强", decided_at=datetime.now(UTC), rule_id=rule["id"])
    released, _ = await record_decision(
        validated_event(rec), decision, store=store, fonds_code="Z109", organisations=ORGANISATIONS
    )
    c = released.data.classification
    assert (c.rule_id, c.retention.value, c.class_code) == (rule["id"], rule["retention"], rule["class"])
    assert c.decided_by == "王强"


def test_a_manual_decision_with_bad_values_is_refused():
    with pytest.raises(ValueError, match="unknown class"):
        manual_decision(
            schedule=SCHEDULE,
            decided_by="x",
            decided_at=datetime.now(UTC),
            values={"retention": "Y", "category": "XK", "class": "ZZZ", "security": "公开", "sharing": "01"},
        )
    with pytest.raises(ValueError, match="give the values"):
        manual_decision(schedule=SCHEDULE, decided_by="x", decided_at=datetime.now(UTC), values={"retention": "Y"})
    with pytest.raises(KeyError, match="no rule"):
        manual_decision(schedule=SCHEDULE, decided_by="x", decided_at=datetime.now(UTC), rule_id="NOPE")


async def test_a_platform_without_an_organisation_code_goes_to_review():
    store = InMemoryClassificationStore()
    rec = record(case_number="X-1", source_platform="health-platform")
    assert await classify(validated_event(rec), store) == []
    assert "no organisation code" in store.reviews[rec.case_key]["reason"]


async def test_a_redelivered_case_gets_back_the_same_event_and_code():
    store = InMemoryClassificationStore()
    rec = record(case_number="SCJG-2026-000777")
    [first] = await classify(validated_event(rec, "v-1"), store)
    [second] = await classify(validated_event(rec, "v-2"), store)
    assert second.event.model_dump() == first.event.model_dump()
    assert len(store.codes) == 1
