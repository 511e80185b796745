"""The approval-archive services: capture, validation, classification, storage (and query)."""
