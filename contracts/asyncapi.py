"""The AsyncAPI 3 document of the public topics, generated from the contract models so it cannot drift:
`python -m contracts.asyncapi` rewrites contracts/asyncapi.yaml; a unit test fails when it is stale.
Payload schemas are the committed JSON Schema snapshots (contracts/schemas/)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from contracts.v1 import EVENT_MODELS, topics

DOCUMENT = Path(__file__).with_name("asyncapi.yaml")
PLATFORM_EVENT_SCHEMA = "approval.completed.v1.platform-event.schema.json"

# topic → (message id, what it is, whether the archive receives it or sends it)
TOPICS = {
    topics.APPROVAL_COMPLETED: (
        "approvalCompleted",
        "A completed case, from an approval platform, in its dialect, signed.",
        "receive",
    ),
    topics.CAPTURED: ("captured", "Unified metadata and captured files (claim-check references and digests).", "send"),
    topics.VALIDATED: ("validated", "A case that passed the four-property check; every check's outcome.", "send"),
    topics.CLASSIFIED: ("classified", "The retention schedule's decision and the archival code.", "send"),
    topics.ARCHIVED: ("recordArchived", "One event per archived case revision, for supervision systems.", "send"),
    topics.REJECTED: ("recordRejected", "A rectification request addressed to the source platform.", "send"),
    topics.DEAD_LETTER: ("deadLetter", "A message that could not be processed, with its origin and reason.", "send"),
    topics.FIXITY_FAILED: ("fixityFailed", "A stored package whose digests no longer match.", "send"),
    topics.DISPOSED: (
        "recordDisposed",
        "An archived record destroyed at the end of its retention, with a second person's approval.",
        "send",
    ),
}


def render() -> str:
    missing = set(EVENT_MODELS) - set(TOPICS)
    if missing:
        raise SystemExit(f"contracts/asyncapi.py does not describe {sorted(missing)}: add them to TOPICS")
    channels, operations, messages = {}, {}, {}
    for topic, (message_id, summary, action) in TOPICS.items():
        schema = PLATFORM_EVENT_SCHEMA if topic == topics.APPROVAL_COMPLETED else f"{topic}.schema.json"
        channel_id = message_id
        channels[channel_id] = {
            "address": topic,
            "description": summary,
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
            "bindings": {"kafka": {"partitions": 3, "bindingVersion": "0.5.0"}},
        }
        operations[f"{action}{message_id[0].upper()}{message_id[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": summary,
        }
        messages[message_id] = {
            "name": topic,
            "title": f"{topic} (CloudEvents 1.0, structured JSON)",
            "summary": summary,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"./schemas/{schema}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": "The case key platform/case-number/rN."},
                    "bindingVersion": "0.5.0",
                }
            },
        }
    document = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "approval-archive",
            "version": "1.0.0",
            "description": "Events in and out of the archive of administrative-approval records. Every message is "
            "a CloudEvents 1.0 event in structured JSON mode with a `correlationid` extension that follows the "
            "case; see docs/contracts.md and docs/sources.md.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {"host": "127.0.0.1:19092", "protocol": "kafka", "description": "the local stack of `make up`"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def main() -> int:
    DOCUMENT.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
