"""Disposition: appraisal decisions at expiry, destruction proposals and approvals, legal holds,
tombstones of destroyed records (docs/lifecycle.md, "Disposition").

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-02

The tables have no foreign key to `records` on purpose: a destroyed record's row leaves `records`, and
its decisions, holds and tombstone stay; the index rebuild (which empties `records`) leaves them alone.
Preservation events of a destroyed record stay too (its PREMIS deletion event above all), so their
foreign key to `records` is dropped. Keys of the new role `approver` (the two-person rule) are allowed.
"""

from alembic import op

revision = "0013"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE disposition_decisions (
            id                bigserial PRIMARY KEY,
            case_key          text NOT NULL,
            decision          text NOT NULL CHECK (decision IN ('extend', 'keep', 'destroy')),
            status            text NOT NULL
                              CHECK (status IN ('decided', 'proposed', 'approved', 'rejected', 'executing',
                                                'executed')),
            reason            text NOT NULL CHECK (reason <> ''),
            retention_before  text NOT NULL,
            retention_after   text,
            proposed_by_key   text NOT NULL,
            proposed_by       text NOT NULL,
            proposed_by_role  text NOT NULL,
            proposed_at       timestamptz NOT NULL,
            approved_by_key   text,
            approved_by       text,
            approved_at       timestamptz,
            rejected_by_key   text,
            rejected_by       text,
            rejected_at       timestamptz,
            reject_reason     text,
            executed_at       timestamptz,
            CHECK (approved_by_key IS NULL OR approved_by_key <> proposed_by_key)
        )
        """
    )
    op.execute("CREATE INDEX disposition_decisions_case ON disposition_decisions (case_key, id DESC)")
    # One open destruction per record: a second proposal while one waits is refused by the database too.
    op.execute(
        """CREATE UNIQUE INDEX disposition_one_open_destruction ON disposition_decisions (case_key)
           WHERE decision = 'destroy' AND status IN ('proposed', 'approved', 'executing')"""
    )
    op.execute(
        """
        CREATE TABLE legal_holds (
            id          bigserial PRIMARY KEY,
            case_key    text NOT NULL,
            reason      text NOT NULL CHECK (reason <> ''),
            reference   text NOT NULL CHECK (reference <> ''),
            set_by      text NOT NULL,
            set_at      timestamptz NOT NULL,
            lifted_by   text,
            lifted_at   timestamptz,
            lift_reason text
        )
        """
    )
    op.execute("CREATE INDEX legal_holds_active ON legal_holds (case_key) WHERE lifted_at IS NULL")
    op.execute(
        """
        CREATE TABLE record_tombstones (
            case_key         text PRIMARY KEY,
            source_platform  text NOT NULL,
            case_number      text NOT NULL,
            revision         integer NOT NULL,
            archival_code    text NOT NULL,
            case_title       text NOT NULL,
            department_code  text,
            region_code      text,
            retention        text NOT NULL,
            completed_at     timestamptz NOT NULL,
            expired_at       timestamptz NOT NULL,
            file_count       integer NOT NULL,
            total_bytes      bigint NOT NULL,
            package_bucket   text NOT NULL,
            package_key      text NOT NULL,
            package_sha256   text,
            deleted_versions jsonb NOT NULL,
            decision_id      bigint NOT NULL REFERENCES disposition_decisions (id),
            destroyed_at     timestamptz NOT NULL,
            register_case_key text
        )
        """
    )
    op.execute("ALTER TABLE preservation_events DROP CONSTRAINT IF EXISTS preservation_events_case_key_fkey")
    # The approving role of the two-person rule (services/query/access.py Role.APPROVER).
    op.execute(
        """ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check, ADD CONSTRAINT api_keys_role_check
           CHECK (role IN ('operator', 'auditor', 'supervision', 'platform', 'approver'))"""
    )


def downgrade() -> None:
    op.execute(
        """ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check, ADD CONSTRAINT api_keys_role_check
           CHECK (role IN ('operator', 'auditor', 'supervision', 'platform')) NOT VALID"""
    )
    op.execute("DROP TABLE record_tombstones, legal_holds, disposition_decisions")
    op.execute(
        "ALTER TABLE preservation_events ADD CONSTRAINT preservation_events_case_key_fkey "
        "FOREIGN KEY (case_key) REFERENCES records (case_key) NOT VALID"
    )
