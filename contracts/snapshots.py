"""JSON Schema snapshots of the envelopes. `python -m contracts.snapshots` rewrites them; a unit test
fails when a model changes and its committed snapshot does not."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.v1 import EVENT_MODELS
from contracts.v1.inbound import PlatformEvent

SNAPSHOT_DIR = Path(__file__).parent / "schemas"


def render(topic: str) -> str:
    schema = EVENT_MODELS[topic].model_json_schema(mode="serialization")
    schema["$id"] = f"urn:approval-archive:schema:{topic}"
    schema["title"] = f"{topic} (CloudEvents 1.0 structured mode)"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def snapshot_path(topic: str) -> Path:
    return SNAPSHOT_DIR / f"{topic}.schema.json"


def render_platform_event() -> str:
    """What platforms send on approval.completed.v1 in any dialect (the unified one is `render(topic)`)."""
    schema = PlatformEvent.model_json_schema(mode="validation")
    schema["$id"] = "urn:approval-archive:schema:approval.completed.v1:platform-event"
    schema["title"] = "approval.completed.v1 as a platform sends it (any dialect, signed)"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


PLATFORM_EVENT_PATH = SNAPSHOT_DIR / "approval.completed.v1.platform-event.schema.json"


def main() -> int:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    for topic in EVENT_MODELS:
        snapshot_path(topic).write_text(render(topic), encoding="utf-8")
        print(f"wrote {snapshot_path(topic)}")
    PLATFORM_EVENT_PATH.write_text(render_platform_event(), encoding="utf-8")
    print(f"wrote {PLATFORM_EVENT_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
