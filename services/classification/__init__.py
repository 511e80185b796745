"""classification: applies the retention schedule and allocates the archival code (DA/T 22)."""
