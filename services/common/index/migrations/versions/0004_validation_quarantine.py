"""Validation: the quarantine of rejected cases (退回整改) and the registry of case numbers.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One entry per rejected case revision. It stays `open` until a later revision of the same case passes
    # validation (`closed`) or is rejected in turn (`superseded`); rows are never deleted, so the history
    # keeps every revision.
    op.execute(
        """
        CREATE TABLE quarantine (
            case_key           text PRIMARY KEY,
            source_platform    text NOT NULL,
            case_number        text NOT NULL,
            revision           integer NOT NULL,
            case_title         text,
            failures           jsonb NOT NULL,
            rejected_event_id  text NOT NULL,
            correlation_id     text,
            status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'superseded')),
            opened_at          timestamptz NOT NULL DEFAULT now(),
            closed_at          timestamptz,
            closed_by_revision integer,
            UNIQUE (source_platform, case_number, revision)
        )
        """
    )
    op.execute("CREATE INDEX quarantine_open ON quarantine (source_platform, case_number) WHERE status = 'open'")
    op.execute("CREATE INDEX quarantine_opened ON quarantine (opened_at)")
    # Who holds a case number: every case revision validation has seen, with what identifies the case
    # (applicant id, item) and a fingerprint of its content. See docs/validation.md (AUTH-CASE-NUMBER).
    op.execute(
        """
        CREATE TABLE case_numbers (
            source_platform     text NOT NULL,
            case_number         text NOT NULL,
            revision            integer NOT NULL,
            applicant_id_number text NOT NULL,
            item_code           text NOT NULL,
            fingerprint         text NOT NULL,
            first_seen_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (source_platform, case_number, revision)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE quarantine, case_numbers")
