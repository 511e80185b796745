"""`python -m services.query`: the query service on uvicorn (AA_QUERY_HOST:AA_QUERY_PORT, default
127.0.0.1:8700), Prometheus metrics on AA_METRICS_PORT (default 9105).

uvicorn's access log is off: it would write every query string — the applicant_id filter included — in
clear. The service logs one JSON line per request itself, with ID numbers masked (services/query/auth.py)."""

import uvicorn

from services.common.allocator import pin_malloc_thresholds
from services.common.logs import configure_logging, logging_config
from services.common.metrics import serve_metrics
from services.query.app import create_app
from services.query.config import QuerySettings


def main() -> None:
    settings = QuerySettings()
    configure_logging("query", settings.log_level)
    pin_malloc_thresholds(settings.malloc_mmap_threshold_bytes, settings.malloc_trim_threshold_bytes)
    serve_metrics("query", settings.metrics_port, settings.metrics_host)
    uvicorn.run(
        create_app(settings),
        host=settings.query_host,
        port=settings.query_port,
        access_log=False,
        log_config=logging_config("query", settings.log_level),
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
