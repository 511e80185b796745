"""storage: writes the self-describing package to the archive bucket, the index to PostgreSQL, and
announces the archived record."""
