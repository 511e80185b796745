"""Search: indexes for a word within a platform, and a department's records of one retention.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

bench/query_search.py (1 M records) found the two searches PostgreSQL plans worst, because it takes
their conditions as independent: a word that never occurs in a platform's records (a platform key's
search) and a department with a retention none of its items has. Both took 140-150 ms at p95; with
these indexes they answer from one index (docs/benchmarks.md). btree_gin makes the plain platform column
part of a GIN index, so "this platform AND these bigrams" is an intersection inside one index.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("CREATE INDEX records_platform_terms ON records USING gin (source_platform, search_terms)")
    op.execute("CREATE INDEX records_department_retention ON records (department_code, retention, completed_at)")


def downgrade() -> None:
    op.execute("DROP INDEX records_platform_terms, records_department_retention")
