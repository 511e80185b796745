"""Structured JSON logs. Every line carries the service name and, while a message is being handled,
the case's correlation id and case key, so one `grep` follows a case through all services."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_case_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("case_context", default=None)
_service_name = "approval-archive"


class _CaseContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.service = _service_name
        for key, value in (_case_context.get() or {}).items():
            setattr(record, key, value)
        return True


@contextlib.contextmanager
def case_context(**fields: str | None) -> Iterator[None]:
    """Attach fields (correlation_id, case_key, event_id, …) to every log line inside the block."""
    token = _case_context.set({**(_case_context.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _case_context.reset(token)


def logging_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the service; also handed to Faust's worker so its own lines are JSON too."""
    global _service_name
    _service_name = service
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"case": {"()": _CaseContextFilter}},
        "formatters": {
            "json": {
                "()": JsonFormatter,
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "json_ensure_ascii": False,
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": sys.stderr,
                "formatter": "json",
                "filters": ["case"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # aiokafka and faust are chatty at INFO about rebalances; keep them but one level up.
            "aiokafka": {"level": "WARNING"},
            "faust": {"level": "WARNING"},
            "mode": {"level": "WARNING"},
        },
    }


def configure_logging(service: str, level: str = "INFO") -> None:
    import logging.config

    logging.config.dictConfig(logging_config(service, level))
