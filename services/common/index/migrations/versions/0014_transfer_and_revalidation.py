"""Transfer sets to the state archives, and the four-property re-checks of stored packages.

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-02

`revalidations`: one row per package each time its four-property check is run again (DA/T 70-2018 at
transfer and at long-term preservation): fixity, the format still accepted, the file still opens, each
pass / fail / not_run, with the per-file results. Like `fixity_checks`, it happens after the package is
sealed, so it is not in the package, and the index rebuild leaves it alone: no foreign key to records.

`transfer_sets` and `transfer_set_records`: a transfer set written for the state archives (docs/lifecycle.md,
"Transfer to the state archives"), its register's figures and digests, and the records in it — a record is
transferred when it is in a set (once: a unique case key), and the set is closed when the receiving archive
acknowledges it. Not in the packages either; the rebuild leaves them alone too.
"""

from alembic import op

revision = "0014"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE revalidations (
            id           bigserial PRIMARY KEY,
            case_key     text NOT NULL,
            checked_at   timestamptz NOT NULL,
            purpose      text NOT NULL CHECK (purpose IN ('preservation', 'transfer')),
            transfer_set text,
            fixity       text NOT NULL CHECK (fixity IN ('pass', 'fail')),
            format       text NOT NULL CHECK (format IN ('pass', 'fail', 'not_run')),
            opens        text NOT NULL CHECK (opens IN ('pass', 'fail', 'not_run')),
            outcome      text NOT NULL CHECK (outcome IN ('pass', 'fail')),
            reason       text,
            files        jsonb NOT NULL DEFAULT '[]',
            agent        text NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX revalidations_case ON revalidations (case_key, checked_at DESC)")
    op.execute(
        """
        CREATE TABLE transfer_sets (
            set_id           text PRIMARY KEY,
            created_at       timestamptz NOT NULL,
            created_by       text NOT NULL,
            receiver         text NOT NULL,
            selection        jsonb NOT NULL,
            location         text NOT NULL,
            record_count     integer NOT NULL,
            file_count       integer NOT NULL,
            total_bytes      bigint NOT NULL,
            register_sha256  text NOT NULL,
            register_sm3     text NOT NULL,
            status           text NOT NULL CHECK (status IN ('created', 'accepted')),
            accepted_at      timestamptz,
            accepted_by      text,
            acknowledgement  text,
            keep_until       timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE transfer_set_records (
            set_id         text NOT NULL REFERENCES transfer_sets (set_id),
            case_key       text NOT NULL UNIQUE,
            archival_code  text NOT NULL,
            package_path   text NOT NULL,
            package_size   bigint NOT NULL,
            package_sha256 text NOT NULL,
            package_sm3    text NOT NULL,
            file_count     integer NOT NULL,
            PRIMARY KEY (set_id, case_key)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE transfer_set_records, transfer_sets, revalidations")
