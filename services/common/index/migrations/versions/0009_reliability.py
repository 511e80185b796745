"""Reliability: poison-pill ledger, set-aside messages, the transactional outbox, dead-letter replays.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01

* message_attempts — a worker records "started offset X" before its step and clears it after the ack;
  a row still there when the message comes again means the worker died on it (docs/reliability.md).
* poison_pills — messages set aside after K deaths (shown on the dashboard).
* outbox — events to publish that follow a database commit (a review decision, a fixity alert): the row
  and the event commit in one transaction; a relay publishes and marks them sent.
* dead_letter_replays — `archivectl dlq replay` records each letter it republished, once.
"""

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE message_attempts (
            group_id        text NOT NULL,
            topic           text NOT NULL,
            partition       integer NOT NULL,
            "offset"        bigint NOT NULL,
            starts          integer NOT NULL,
            first_started_at timestamptz NOT NULL DEFAULT now(),
            last_started_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, topic, partition, "offset")
        )
        """
    )
    op.execute(
        """
        CREATE TABLE poison_pills (
            group_id     text NOT NULL,
            topic        text NOT NULL,
            partition    integer NOT NULL,
            "offset"     bigint NOT NULL,
            service      text NOT NULL,
            origin_key   text,
            deaths       integer NOT NULL,
            set_aside_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, topic, partition, "offset")
        )
        """
    )
    op.execute("CREATE INDEX poison_pills_recent ON poison_pills (set_aside_at DESC)")
    op.execute(
        """
        CREATE TABLE outbox (
            event_id   text PRIMARY KEY,
            topic      text NOT NULL,
            key        bytea NOT NULL,
            value      bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at    timestamptz
        )
        """
    )
    op.execute("CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL")
    op.execute(
        """
        CREATE TABLE dead_letter_replays (
            letter_id    text PRIMARY KEY,
            origin_topic text NOT NULL,
            replayed_by  text NOT NULL,
            replayed_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE dead_letter_replays, outbox, poison_pills, message_attempts")
