"""Use of the archive: API keys, the hash-chained audit log, quarantine worked by people, n-gram search.

Revision ID: 0006
Revises: 0002, 0003, 0004, 0005
Create Date: 2026-11-25
"""

from alembic import op

revision = "0006"
down_revision = ("0002", "0003", "0004", "0005")
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Credentials of systems and people (docs/access.md). The key a caller presents is
    # `aa_<key_id>_<secret>`; only the secret's SHA-256 is kept (the secret is 256 random bits, so an
    # unsalted digest cannot be brute-forced), and the key id is what logs and the audit log name.
    op.execute(
        """
        CREATE TABLE api_keys (
            key_id         text PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{8,32}$'),
            secret_sha256  text NOT NULL,
            name           text NOT NULL,
            role           text NOT NULL CHECK (role IN ('operator', 'auditor', 'supervision', 'platform')),
            departments    text[] NOT NULL DEFAULT '{}',
            sharing_levels text[] NOT NULL,
            max_security   text NOT NULL,
            platform_id    text,
            created_by     text NOT NULL,
            created_at     timestamptz NOT NULL DEFAULT now(),
            expires_at     timestamptz,
            revoked_at     timestamptz,
            CHECK ((role = 'platform') = (platform_id IS NOT NULL))
        )
        """
    )
    # Every read and every action, one row each, hash-chained: `digest` = SHA-256 over the previous row's
    # digest and this row's canonical JSON. `seq` is assigned under a lock, without gaps, so a removed
    # row shows as well as an edited one. The trigger makes the table append-only for every role but a
    # superuser who disables it on purpose — which `archivectl audit verify` then reveals.
    op.execute(
        """
        CREATE TABLE audit_log (
            seq         bigint PRIMARY KEY CHECK (seq >= 1),
            at          timestamptz NOT NULL,
            key_id      text,
            principal   text,
            role        text,
            action      text NOT NULL,
            method      text,
            path        text,
            target      text,
            detail      jsonb NOT NULL DEFAULT '{}',
            status      integer NOT NULL,
            prev_digest text NOT NULL,
            digest      text NOT NULL UNIQUE
        )
        """
    )
    op.execute("CREATE INDEX audit_log_at ON audit_log (at)")
    op.execute("CREATE INDEX audit_log_target ON audit_log (target, seq)")
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
        END $$
        """
    )
    op.execute(
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"""
    )
    op.execute(
        """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
           FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"""
    )

    # Quarantine entries carry where the case came from (the dashboard counts rejects by department) and
    # can be resolved by a person: withdrawn by the applicant, settled outside the system, a duplicate.
    op.execute(
        """
        ALTER TABLE quarantine
            ADD COLUMN department_code text,
            ADD COLUMN department_name text,
            ADD COLUMN item_code       text,
            ADD COLUMN resolved_by     text,
            ADD COLUMN resolution      text,
            ADD COLUMN resolution_note text
        """
    )
    op.execute("ALTER TABLE quarantine DROP CONSTRAINT quarantine_status_check")
    op.execute(
        "ALTER TABLE quarantine ADD CONSTRAINT quarantine_status_check "
        "CHECK (status IN ('open', 'closed', 'superseded', 'resolved'))"
    )

    # Search: character bigrams of title, applicant and item name in one GIN-indexed tsvector. Chinese has
    # no spaces and two-character words are the common query (食品, 建设); trigrams cannot serve those.
    op.execute(
        """
        CREATE FUNCTION search_bigrams(t text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT coalesce(array_to_tsvector(array_agg(DISTINCT substr(s, i, 2))), ''::tsvector)
            FROM (SELECT lower(t) AS s) x, generate_series(1, greatest(length(x.s) - 1, 0)) i
        $$
        """
    )
    op.execute(
        """ALTER TABLE records ADD COLUMN search_terms tsvector GENERATED ALWAYS AS
           (search_bigrams(case_title || ' ' || applicant_name || ' ' || item_name || ' ' || archival_code)) STORED"""
    )
    op.execute("CREATE INDEX records_search_terms ON records USING gin (search_terms)")
    # Keyset pagination and the newest-first listing.
    op.execute("CREATE INDEX records_completed_key ON records (completed_at DESC, case_key DESC)")
    op.execute("CREATE INDEX records_platform ON records (source_platform, completed_at)")
    op.execute("CREATE INDEX records_archived_at ON records (archived_at)")


def downgrade() -> None:
    op.execute("DROP INDEX records_completed_key, records_platform, records_archived_at")
    op.execute("ALTER TABLE records DROP COLUMN search_terms")
    op.execute("DROP FUNCTION search_bigrams(text)")
    op.execute("ALTER TABLE quarantine DROP CONSTRAINT quarantine_status_check")
    op.execute(
        "ALTER TABLE quarantine ADD CONSTRAINT quarantine_status_check "
        "CHECK (status IN ('open', 'closed', 'superseded'))"
    )
    op.execute(
        "ALTER TABLE quarantine DROP COLUMN department_code, DROP COLUMN department_name, DROP COLUMN item_code, "
        "DROP COLUMN resolved_by, DROP COLUMN resolution, DROP COLUMN resolution_note"
    )
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.execute("DROP TABLE api_keys")
