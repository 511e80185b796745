"""The query service's own I/O: API keys, the audit log, record/queue/statistics reads, dashboard SQL.

They live with the service, not in services/common, because they speak its access model (services/common
imports no service)."""
