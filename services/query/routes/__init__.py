"""The query service's endpoints, one module per family (records, files, queues, stats, audit)."""
