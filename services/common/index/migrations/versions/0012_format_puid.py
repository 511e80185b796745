"""Files: the PRONOM identifier (PUID) of each file's format, as validation identified it (FIDO).

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-02

NULL where PRONOM has no identifier for the format (OFD) or the record was archived before validation
identified formats by PRONOM (issue 12).
"""

from alembic import op

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE record_files ADD COLUMN format_puid text")


def downgrade() -> None:
    op.execute("ALTER TABLE record_files DROP COLUMN format_puid")
