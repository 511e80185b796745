"""How the runner tells a fault worth retrying from input that will never succeed."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import errors as kafka_errors
from minio.error import S3Error, ServerError
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from services.common.adapters.object_store import ObjectUnreadable


class InvalidInput(Exception):
    """The message itself is wrong (not JSON, not a CloudEvent, a record that breaks the contract, a
    reference to something that does not exist). Retrying cannot help: it goes to the dead-letter
    topic with this message as the reason."""

    def __init__(self, reason: str, *, kind: str = "InvalidInput") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class TransientFault(Exception):
    """A dependency is unavailable for now; the same message will succeed later."""


# S3 error codes that mean "the server is busy or broken right now", not "your request is wrong".
_TRANSIENT_S3_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "XMinioServerNotInitialized",
}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ObjectUnreadable):  # the adapter's error: as transient as what it wraps
        return exc.__cause__ is not None and is_transient(exc.__cause__)
    if isinstance(exc, TransientFault | ConnectionError | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(exc, OSError):  # refused connections, resets, DNS trouble
        return True
    if isinstance(
        exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError
    ):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc).lower():
        return True
    if isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return True
    if isinstance(exc, ServerError | Urllib3HTTPError):
        return True
    if isinstance(exc, S3Error):
        return exc.code in _TRANSIENT_S3_CODES
    if isinstance(exc, kafka_errors.KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(
            exc, kafka_errors.KafkaConnectionError | kafka_errors.KafkaTimeoutError
        )
    return False


def fault_name(exc: BaseException) -> str:
    return type(exc).__name__
