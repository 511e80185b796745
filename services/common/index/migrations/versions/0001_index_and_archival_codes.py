"""The first index: archived records, their files, archival-code series and allocations.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # One counter row per archival-code series (DA/T 22: fonds + category + year + retention + organisation).
    # Allocation locks the row, so item numbers are continuous and never handed out twice.
    op.execute(
        """
        CREATE TABLE archival_series (
            fonds_code        text    NOT NULL,
            category_code     text    NOT NULL,
            year              integer NOT NULL,
            retention         text    NOT NULL,
            organisation_code text    NOT NULL,
            last_item_number  integer NOT NULL DEFAULT 0,
            PRIMARY KEY (fonds_code, category_code, year, retention, organisation_code)
        )
        """
    )
    # The code a case revision was given; a redelivered case reads its code back from here.
    op.execute(
        """
        CREATE TABLE archival_codes (
            case_key          text PRIMARY KEY,
            archival_code     text NOT NULL UNIQUE,
            fonds_code        text NOT NULL,
            category_code     text NOT NULL,
            year              integer NOT NULL,
            retention         text NOT NULL,
            organisation_code text NOT NULL,
            item_number       integer NOT NULL CHECK (item_number >= 1),
            allocated_at      timestamptz NOT NULL DEFAULT now(),
            UNIQUE (fonds_code, category_code, year, retention, organisation_code, item_number)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE records (
            case_key            text PRIMARY KEY,
            source_platform     text NOT NULL,
            case_number         text NOT NULL,
            revision            integer NOT NULL,
            region_code         text NOT NULL,
            item_code           text NOT NULL,
            item_name           text NOT NULL,
            case_title          text NOT NULL,
            applicant_name      text NOT NULL,
            applicant_type      text NOT NULL,
            applicant_id_type   text NOT NULL,
            applicant_id_number text NOT NULL,
            department_code     text NOT NULL,
            department_name     text NOT NULL,
            accepted_at         timestamptz NOT NULL,
            completed_at        timestamptz NOT NULL,
            result              text NOT NULL,
            certificate_number  text,
            archival_code       text NOT NULL UNIQUE REFERENCES archival_codes (archival_code),
            category_code       text NOT NULL,
            class_code          text NOT NULL,
            retention           text NOT NULL,
            security_level      text NOT NULL,
            sharing_level       text NOT NULL,
            rule_id             text NOT NULL,
            schedule_version    text NOT NULL,
            package_bucket      text NOT NULL,
            package_prefix      text NOT NULL,
            manifest_sha256     text NOT NULL,
            file_count          integer NOT NULL,
            total_bytes         bigint NOT NULL,
            correlation_id      text NOT NULL,
            archived_at         timestamptz NOT NULL,
            archived_event      jsonb NOT NULL,
            UNIQUE (source_platform, case_number, revision)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE record_files (
            case_key           text NOT NULL REFERENCES records (case_key),
            seq                integer NOT NULL,
            stage              text NOT NULL,
            material_name      text NOT NULL,
            file_name          text NOT NULL,
            original_file_name text NOT NULL,
            media_type         text NOT NULL,
            size               bigint NOT NULL,
            sha256             text NOT NULL,
            object_key         text NOT NULL,
            PRIMARY KEY (case_key, seq)
        )
        """
    )
    op.execute("CREATE INDEX records_title_trgm ON records USING gin (case_title gin_trgm_ops)")
    op.execute("CREATE INDEX records_applicant_trgm ON records USING gin (applicant_name gin_trgm_ops)")
    op.execute("CREATE INDEX records_item ON records (item_code, completed_at)")
    op.execute("CREATE INDEX records_department ON records (department_code, completed_at)")
    op.execute("CREATE INDEX records_applicant_id ON records (applicant_id_number)")


def downgrade() -> None:
    op.execute("DROP TABLE record_files, records, archival_codes, archival_series")
