"""Platform registry: which platforms may send, their dialect and secrets; event ids already seen.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE platforms (
            platform_id  text PRIMARY KEY CHECK (platform_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
            display_name text NOT NULL,
            dialect      text NOT NULL,
            enabled      boolean NOT NULL DEFAULT true,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # Several secrets may be valid at once: during a rotation the old one keeps working until it expires.
    op.execute(
        """
        CREATE TABLE platform_secrets (
            platform_id text NOT NULL REFERENCES platforms (platform_id),
            secret_id   integer NOT NULL,
            secret      text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            expires_at  timestamptz,
            PRIMARY KEY (platform_id, secret_id)
        )
        """
    )
    # One row per (platform, event id): a replay of the same content is recognised as such; the same id
    # with different content is refused.
    op.execute(
        """
        CREATE TABLE platform_events_seen (
            platform_id    text NOT NULL,
            event_id       text NOT NULL,
            content_sha256 text NOT NULL,
            first_seen_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (platform_id, event_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE platform_events_seen, platform_secrets, platforms")
