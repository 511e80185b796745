"""Retention schedule versions and rules, classifications, the manual review queue, reclassification audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per loaded schedule version. Versions are immutable: loading the same version again is a
    # no-op if the file is the same (sha256) and refused if it differs.
    op.execute(
        """
        CREATE TABLE retention_schedules (
            version      text PRIMARY KEY,
            title        text NOT NULL,
            sha256       text NOT NULL,
            source_file  text NOT NULL,
            document     jsonb NOT NULL,
            loaded_by    text NOT NULL,
            loaded_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # The rules of each version, one row each (queryable; the service evaluates `document`).
    op.execute(
        """
        CREATE TABLE retention_rules (
            version        text NOT NULL REFERENCES retention_schedules (version),
            rule_id        text NOT NULL,
            position       integer NOT NULL,
            priority       integer NOT NULL,
            item_pattern   text NOT NULL,
            item_version   text,
            conditions     jsonb NOT NULL,
            materials      jsonb NOT NULL,
            retention      text NOT NULL,
            category_code  text NOT NULL,
            class_code     text NOT NULL,
            security_level text NOT NULL,
            sharing_level  text NOT NULL,
            PRIMARY KEY (version, rule_id)
        )
        """
    )
    # Which version is in force: the latest activation. Loading a version activates it; activating an
    # older one again is how a bad version is rolled back.
    op.execute(
        """
        CREATE TABLE schedule_activations (
            seq           bigserial PRIMARY KEY,
            version       text NOT NULL REFERENCES retention_schedules (version),
            activated_by  text NOT NULL,
            activated_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # The classification of every case revision, written in the same transaction as its archival code.
    # `classified_event` is the event as first emitted (re-emitted unchanged on redelivery); the
    # `current_*` columns are the decision in force, which reclassification may change (never the code).
    op.execute(
        """
        CREATE TABLE classifications (
            case_key                 text PRIMARY KEY REFERENCES archival_codes (case_key),
            archival_code            text NOT NULL UNIQUE,
            item_code                text NOT NULL,
            rule_id                  text NOT NULL,
            schedule_version         text NOT NULL,
            decided_by               text,
            classified_event         jsonb NOT NULL,
            classified_at            timestamptz NOT NULL DEFAULT now(),
            current_rule_id          text NOT NULL,
            current_schedule_version text NOT NULL,
            current_category_code    text NOT NULL,
            current_class_code       text NOT NULL,
            current_retention        text NOT NULL,
            current_security_level   text NOT NULL,
            current_sharing_level    text NOT NULL,
            reclassified_at          timestamptz
        )
        """
    )
    # Cases no rule covers wait here for a person (the query issue gives it a screen).
    op.execute(
        """
        CREATE TABLE classification_reviews (
            case_key          text PRIMARY KEY,
            status            text NOT NULL CHECK (status IN ('waiting', 'decided')),
            reason            text NOT NULL,
            schedule_version  text NOT NULL,
            source_platform   text NOT NULL,
            item_code         text NOT NULL,
            item_name         text NOT NULL,
            case_title        text NOT NULL,
            validated_event   jsonb NOT NULL,
            queued_at         timestamptz NOT NULL DEFAULT now(),
            decided_by        text,
            decided_at        timestamptz,
            decision          jsonb
        )
        """
    )
    op.execute(
        "CREATE INDEX classification_reviews_waiting ON classification_reviews (queued_at) WHERE status='waiting'"
    )
    # Every reclassification run, per case: the decision before and after, under which version, by whom.
    op.execute(
        """
        CREATE TABLE reclassifications (
            id             bigserial PRIMARY KEY,
            case_key       text NOT NULL REFERENCES classifications (case_key),
            archival_code  text NOT NULL,
            to_version     text NOT NULL REFERENCES retention_schedules (version),
            outcome        text NOT NULL CHECK (outcome IN ('changed', 'unchanged', 'unmatched')),
            old_decision   jsonb NOT NULL,
            new_decision   jsonb,
            requested_by   text NOT NULL,
            note           text,
            at             timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX reclassifications_case ON reclassifications (case_key, at)")


def downgrade() -> None:
    op.execute(
        "DROP TABLE reclassifications, classification_reviews, classifications, schedule_activations, "
        "retention_rules, retention_schedules"
    )
