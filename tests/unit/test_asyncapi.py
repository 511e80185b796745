"""contracts/asyncapi.yaml describes every public topic with the committed schemas of the models."""

import json
from pathlib import Path

import pytest
import yaml

from contracts import asyncapi
from contracts.snapshots import PLATFORM_EVENT_PATH, render_platform_event
from contracts.v1 import EVENT_MODELS
from contracts.v1.inbound import PlatformEvent

pytestmark = pytest.mark.unit
CONTRACTS = Path(asyncapi.__file__).parent


def test_the_committed_document_is_the_generated_one():
    assert asyncapi.DOCUMENT.read_text(encoding="utf-8") == asyncapi.render(), (
        "contracts/asyncapi.yaml is stale: run `python -m contracts.asyncapi` and commit"
    )


def test_every_topic_has_a_channel_whose_payload_schema_is_committed():
    document = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(EVENT_MODELS)
    for message in document["components"]["messages"].values():
        schema_file = CONTRACTS / message["payload"]["$ref"]
        assert schema_file.exists(), schema_file
        assert json.loads(schema_file.read_text(encoding="utf-8"))["type"] == "object"
    for operation in document["operations"].values():
        assert operation["channel"]["$ref"].removeprefix("#/channels/") in document["channels"]


def test_the_platform_event_snapshot_follows_its_model():
    assert PLATFORM_EVENT_PATH.read_text(encoding="utf-8") == render_platform_event()
    assert set(PlatformEvent.model_json_schema()["required"]) >= {"id", "source", "type", "time", "data"}
