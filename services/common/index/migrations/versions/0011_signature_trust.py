"""Signature trust: the CA certificates whose signatures a platform's files are trusted under.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-02

Kept beside the platform registry (0005): trust is configuration of a platform, managed with
`archivectl platform trust add|list|remove`. Validation loads a platform's anchors once and caches them
for a short time (services/validation/adapters/trust_anchors.py), so no file costs a database round trip.
"""

from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE platform_trust_anchors (
            platform_id TEXT NOT NULL REFERENCES platforms (platform_id) ON DELETE CASCADE,
            fingerprint_sha256 TEXT NOT NULL CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
            subject TEXT NOT NULL,
            not_after TIMESTAMPTZ NOT NULL,
            certificate_der BYTEA NOT NULL,
            added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (platform_id, fingerprint_sha256)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE platform_trust_anchors")
