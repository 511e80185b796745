"""Two copies of every package: the replica's version id per record, the copy a fixity check read, and
the restore tests.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-02

The storage step writes each package to the primary site and to the replica (docs/packages.md "Two
copies"); the index keeps the version of each copy it trusts (a repair moves it to the repaired
version). Every fixity check says which copy it read (existing rows were all of the primary). A restore
test restores a package from the replica alone and records what it found (DA/T 70).
"""

from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE records ADD COLUMN replica_version_id text")
    op.execute(
        "ALTER TABLE fixity_checks ADD COLUMN copy text NOT NULL DEFAULT 'primary' "
        "CHECK (copy IN ('primary', 'replica'))"
    )
    op.execute(
        """
        CREATE TABLE restore_tests (
            id          bigserial PRIMARY KEY,
            case_key    text NOT NULL,
            tested_at   timestamptz NOT NULL,
            copy        text NOT NULL,
            outcome     text NOT NULL CHECK (outcome IN ('pass', 'fail')),
            reason      text,
            seconds     double precision NOT NULL,
            agent       text NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX restore_tests_time ON restore_tests (tested_at DESC)")


def downgrade() -> None:
    op.execute("DROP TABLE restore_tests")
    op.execute("ALTER TABLE fixity_checks DROP COLUMN copy")
    op.execute("ALTER TABLE records DROP COLUMN replica_version_id")
