"""The query service: search, records and files, the exception queues, statistics and the audit log over
HTTP (FastAPI on uvicorn). `python -m services.query` runs it; docs/query.md and docs/access.md describe it."""
