"""Single-object packages, preservation events, fixity checks, search indexes.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The package object (one uncompressed tar of the bag): where it is, which version, its own digest,
    # and how long it is write-once. Nullable: rows of the earlier prefix layout have none of these.
    op.execute(
        """
        ALTER TABLE records
            ADD COLUMN package_key        text,
            ADD COLUMN package_version_id text,
            ADD COLUMN package_sha256     text,
            ADD COLUMN package_size       bigint,
            ADD COLUMN retain_until       timestamptz,
            ADD COLUMN legal_hold         boolean NOT NULL DEFAULT false
        """
    )
    # Each file's place inside the tar: one ranged GET of (byte_offset, size) serves it.
    op.execute(
        """
        ALTER TABLE record_files
            ADD COLUMN sm3             text,
            ADD COLUMN path_in_package text,
            ADD COLUMN byte_offset     bigint
        """
    )
    op.execute(
        """
        CREATE TABLE preservation_events (
            case_key       text NOT NULL REFERENCES records (case_key),
            seq            integer NOT NULL,
            event_id       text NOT NULL UNIQUE,
            event_type     text NOT NULL,
            event_type_uri text,
            event_time     timestamptz,
            outcome        text NOT NULL,
            detail         text NOT NULL,
            agent          text NOT NULL,
            PRIMARY KEY (case_key, seq)
        )
        """
    )
    # Fixity checks happen after the package is sealed, so they live here only (not in the package) and
    # the index rebuild leaves this table alone: no foreign key to records on purpose.
    op.execute(
        """
        CREATE TABLE fixity_checks (
            id              bigserial PRIMARY KEY,
            case_key        text NOT NULL,
            package_bucket  text NOT NULL,
            package_key     text NOT NULL,
            version_id      text,
            checked_at      timestamptz NOT NULL,
            outcome         text NOT NULL CHECK (outcome IN ('pass', 'fail')),
            reason          text,
            expected_sha256 text,
            computed_sha256 text,
            failed_paths    text[] NOT NULL DEFAULT '{}',
            agent           text NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX fixity_checks_case ON fixity_checks (case_key, checked_at DESC)")
    op.execute("CREATE INDEX records_completed ON records (completed_at)")
    op.execute("CREATE INDEX records_retention_category ON records (retention, category_code, completed_at)")
    op.execute("CREATE INDEX records_archival_code_trgm ON records USING gin (archival_code gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP TABLE fixity_checks, preservation_events")
    op.execute("DROP INDEX records_completed, records_retention_category, records_archival_code_trgm")
    op.execute("ALTER TABLE record_files DROP COLUMN sm3, DROP COLUMN path_in_package, DROP COLUMN byte_offset")
    op.execute(
        "ALTER TABLE records DROP COLUMN package_key, DROP COLUMN package_version_id, DROP COLUMN package_sha256, "
        "DROP COLUMN package_size, DROP COLUMN retain_until, DROP COLUMN legal_hold"
    )
