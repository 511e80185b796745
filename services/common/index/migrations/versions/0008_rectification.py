"""Rectification (退回整改) that closes: which revision binds a case number, capture's rejections in the
quarantine, corrections of archived cases, and the journal of each case's progress.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

See docs/validation.md ("What binds a case number") and docs/sources.md ("A case's status").
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A revision binds its case number to its applicant and item only when it passed validation; a rejected
    # revision is registered (its fingerprint still refuses a changed resend of the same revision) but binds
    # nothing, so its correction may change any element of the record, identity included.
    op.execute("ALTER TABLE case_numbers ADD COLUMN binds boolean NOT NULL DEFAULT true")
    op.execute(
        """UPDATE case_numbers c SET binds = false FROM quarantine q
           WHERE q.source_platform = c.source_platform AND q.case_number = c.case_number
             AND q.revision = c.revision"""
    )
    # Capture's rejections of an authenticated platform's case are quarantined too (stage 'capture').
    op.execute(
        "ALTER TABLE quarantine ADD COLUMN stage text NOT NULL DEFAULT 'validation' "
        "CHECK (stage IN ('capture', 'validation'))"
    )
    # Overdue rectifications: open entries by age.
    op.execute("CREATE INDEX quarantine_open_age ON quarantine (opened_at) WHERE status = 'open'")
    # A correction of an archived case is archived beside it; the index links each revision to the next
    # archived one (search shows the newest; the record shows the chain). Derived from revision order, so
    # an index rebuild from the packages gives the same links.
    op.execute("ALTER TABLE records ADD COLUMN superseded_by_revision integer")
    op.execute(
        """UPDATE records r SET superseded_by_revision = n.next FROM (
               SELECT case_key, lead(revision) OVER (PARTITION BY source_platform, case_number ORDER BY revision)
                      AS next FROM records) n
           WHERE n.case_key = r.case_key AND n.next IS NOT NULL"""
    )
    op.execute(
        "CREATE INDEX records_current ON records (source_platform, case_number) WHERE superseded_by_revision IS NULL"
    )
    # What became of each case revision, step by step: the first time each state was reached. Written by the
    # shared runner's progress hook (services/common/adapters/case_progress.py), idempotently.
    op.execute(
        """
        CREATE TABLE case_progress (
            case_key        text NOT NULL,
            source_platform text NOT NULL,
            case_number     text NOT NULL,
            revision        integer NOT NULL,
            state           text NOT NULL CHECK (state IN ('received', 'captured', 'validated', 'rejected',
                                'classified', 'waiting_for_review', 'archived', 'dead_lettered')),
            service         text NOT NULL,
            event_id        text,
            details         jsonb NOT NULL DEFAULT '{}',
            at              timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (case_key, state)
        )
        """
    )
    op.execute("CREATE INDEX case_progress_case ON case_progress (source_platform, case_number, revision)")


def downgrade() -> None:
    op.execute("DROP TABLE case_progress")
    op.execute("DROP INDEX records_current, quarantine_open_age")
    op.execute("ALTER TABLE records DROP COLUMN superseded_by_revision")
    op.execute("ALTER TABLE quarantine DROP COLUMN stage")
    op.execute("ALTER TABLE case_numbers DROP COLUMN binds")
