"""Adapters: the only code that talks to MinIO, PostgreSQL and Kafka."""
