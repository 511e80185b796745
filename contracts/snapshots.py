"""JSON Schema snapshots of the envelopes. `python -m contracts.snapshots` rewrites them; a unit test
fails when a model changes and its committed snapshot does not."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.v1 import EVENT_MODELS

SNAPSHOT_DIR = Path(__file__).parent / "schemas"


def render(topic: str) -> str:
    schema = EVENT_MODELS[topic].model_json_schema(mode="serialization")
    schema["$id"] = f"urn:approval-archive:schema:{topic}"
    schema["title"] = f"{topic} (CloudEvents 1.0 structured mode)"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def snapshot_path(topic: str) -> Path:
    return SNAPSHOT_DIR / f"{topic}.schema.json"


def main() -> int:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    for topic in EVENT_MODELS:
        snapshot_path(topic).write_text(render(topic), encoding="utf-8")
        print(f"wrote {snapshot_path(topic)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
