"""How the runner tells a fault worth retrying from input that will never succeed."""

from __future__ import annotations

import asyncio
import errno
import socket

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
    "SlowDownRead",  # MinIO: a drive answered badly (bit rot detection, a drive offline)
    "SlowDownWrite",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "XMinioServerNotInitialized",
    "XMinioReadQuorum",
    "XMinioWriteQuorum",
    # The disk is full: the same write succeeds once space is freed (as ENOSPC for the spool).
    "XMinioStorageFull",
    # The archive's own service account is never denied because of what a message holds: a denial is a
    # configuration or storage fault (MinIO answers AccessDenied when its data folder turns read-only, seen
    # in the fault-injection harness) and waits, loudly, instead of dead-lettering the whole topic.
    "AccessDenied",
}


# OSError numbers that mean "the other side or the disk is not ready now; the same call will succeed once
# it is": the network and the server come back, a full spool is emptied by its operator. Everything else
# (permission denied, no such file, is a directory, read-only file system, invalid argument...) does not
# change by waiting and is dead-lettered with its reason rather than retried for ever.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ENETRESET,
        errno.EPIPE,
        errno.EAGAIN,
        errno.EADDRNOTAVAIL,
        errno.ENOSPC,  # a full local spool or data disk: the case waits until space is freed (alerted)
        errno.EDQUOT,
    }
)
# Bare OSErrors asyncio raises for a failed connect (several addresses, all refusing) carry no errno.
_CONNECT_FAILED = ("Multiple exceptions:", "Connect call failed")

# asyncpg's messages when a connection died under an operation (a server restart, pg_terminate_backend)
# and the next operation found it half-way. asyncpg's pool terminates such a connection when its reset on
# release fails, so the retry gets a fresh session (tests/integration/test_postgres_restart.py).
_BROKEN_CONNECTION = ("another operation is in progress", "cannot switch to state", "connection")


def _transient_os_error(exc: OSError) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, socket.gaierror):  # name resolution: a service not registered yet
        return exc.errno in (socket.EAI_AGAIN, socket.EAI_NONAME, socket.EAI_FAIL)
    if exc.errno is None:
        return str(exc).startswith(_CONNECT_FAILED)
    return exc.errno in TRANSIENT_ERRNOS


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ObjectUnreadable):  # the adapter's error: as transient as what it wraps
        return exc.__cause__ is not None and is_transient(exc.__cause__)
    if isinstance(exc, TransientFault | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(exc, OSError):
        return _transient_os_error(exc)
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.AdminShutdownError  # 57P01: the server is stopping (pg_ctl stop -m fast, a terminated backend)
        | asyncpg.CrashShutdownError  # 57P02: another backend crashed; the server restarts
        | asyncpg.ConnectionDoesNotExistError,
    ):
        return True
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError) and any(
        text in str(exc).lower() for text in _BROKEN_CONNECTION
    ):
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
