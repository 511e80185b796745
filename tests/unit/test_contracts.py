"""Contracts are the public interface: snapshots must follow the models, examples must validate."""

import json

import pytest

from contracts.envelope import derived_event_id
from contracts.snapshots import render, snapshot_path
from contracts.v1 import EVENT_MODELS, CaseIdentity, Material
from tests.factories import completed_event

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("topic", sorted(EVENT_MODELS))
def test_committed_json_schema_snapshot_equals_the_model(topic):
    path = snapshot_path(topic)
    assert path.exists(), f"no snapshot for {topic}: run `python -m contracts.snapshots`"
    assert path.read_text(encoding="utf-8") == render(topic), (
        f"{topic} changed without its snapshot: review the change (additive within v1 only), then run "
        "`python -m contracts.snapshots` and commit"
    )


def test_topic_names_carry_the_major_version():
    assert all(topic.endswith(".v1") for topic in EVENT_MODELS)


def test_an_event_survives_a_json_round_trip_unchanged():
    event = completed_event()
    again = type(event).model_validate(json.loads(event.model_dump_json()))
    assert again == event


def test_material_needs_exactly_one_content_source():
    base = {
        "stage": "result",
        "material_name": "决定书",
        "file_name": "a.pdf",
        "media_type": "application/pdf",
        "size": 1,
        "sha256": "0" * 64,
    }
    with pytest.raises(ValueError, match="exactly one"):
        Material.model_validate(base)
    with pytest.raises(ValueError, match="exactly one"):
        Material.model_validate({**base, "url": "https://x/a.pdf", "content_base64": "AA=="})


def test_case_key_is_safe_as_an_object_prefix():
    key = CaseIdentity(source_platform="construction-permit", case_number="JG/2026 ../0001", revision=2).case_key
    assert key == "construction-permit/JG_2026_.._0001/r2"
    assert "/../" not in key


def test_output_event_ids_are_derived_from_type_and_case():
    assert derived_event_id("archive.captured.v1", "p/c/r1") == derived_event_id("archive.captured.v1", "p/c/r1")
    assert derived_event_id("archive.captured.v1", "p/c/r1") != derived_event_id("archive.captured.v1", "p/c/r2")
