"""Topic names of contract version 1. The major version is part of the name: a breaking change gets
a new topic (and an upcaster), additive changes stay here."""

APPROVAL_COMPLETED = "approval.completed.v1"
CAPTURED = "archive.captured.v1"
VALIDATED = "archive.validated.v1"
CLASSIFIED = "archive.classified.v1"
ARCHIVED = "archive.record.archived.v1"
REJECTED = "archive.record.rejected.v1"
DEAD_LETTER = "archive.dlq.v1"
FIXITY_FAILED = "archive.fixity.failed.v1"
DISPOSED = "archive.record.disposed.v1"

ALL_TOPICS = (
    APPROVAL_COMPLETED,
    CAPTURED,
    VALIDATED,
    CLASSIFIED,
    ARCHIVED,
    REJECTED,
    DEAD_LETTER,
    FIXITY_FAILED,
    DISPOSED,
)
