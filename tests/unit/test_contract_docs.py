"""docs/contracts.md shows one complete example per topic; each must validate against its model."""

import json
import re
from pathlib import Path

import pytest

from contracts.v1 import EVENT_MODELS

pytestmark = pytest.mark.unit
DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def _examples() -> dict[str, dict]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"^## `([a-z.0-9]+)`\n.*?```json\n(.*?)\n```", text, flags=re.S | re.M)
    return {topic: json.loads(body) for topic, body in found}


def test_every_topic_has_one_example():
    assert set(_examples()) == set(EVENT_MODELS)


@pytest.mark.parametrize("topic", sorted(EVENT_MODELS))
def test_example_validates_against_the_model(topic):
    example = _examples()[topic]
    event = EVENT_MODELS[topic].model_validate(example)
    assert event.type == topic
