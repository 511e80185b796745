"""Which faults the runner waits out and which it dead-letters (services/common/faults.py)."""

from __future__ import annotations

import errno
import os
import socket

import asyncpg
import pytest
from minio.error import S3Error

from services.common.faults import is_transient

pytestmark = pytest.mark.unit


def _os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize(
    "code",
    [
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EPIPE,
        errno.ENOSPC,
    ],
    ids=errno.errorcode.get,
)
def test_oserrors_that_pass_by_waiting_are_transient(code):
    assert is_transient(_os_error(code))


@pytest.mark.parametrize(
    "code",
    [errno.EACCES, errno.EPERM, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EROFS, errno.EINVAL],
    ids=errno.errorcode.get,
)
def test_oserrors_that_waiting_cannot_fix_are_permanent(code):
    assert not is_transient(_os_error(code)), "retrying a permanent fault for ever stalls the partition"


def test_permanent_oserrors_raised_as_their_subclasses_are_permanent(tmp_path):
    with pytest.raises(OSError) as missing:
        (tmp_path / "not-there").read_bytes()
    assert not is_transient(missing.value)
    with pytest.raises(OSError) as is_a_directory:
        tmp_path.read_bytes()
    assert not is_transient(is_a_directory.value)


def test_connection_failures_without_an_errno_are_transient():
    # asyncio.open_connection to a name with several addresses, all refusing, raises a bare OSError.
    assert is_transient(OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 1)"))
    assert is_transient(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_postgresql_restart_is_transient(exc):
    assert is_transient(exc)


def test_postgresql_errors_about_the_statement_are_permanent():
    assert not is_transient(asyncpg.UndefinedTableError("relation does not exist"))
    assert not is_transient(asyncpg.InternalClientError("unexpected protocol message"))


def _s3_error(code: str) -> S3Error:
    return S3Error(None, code, "message", "/bucket/key", "request-id", "host-id")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["XMinioStorageFull", "AccessDenied", "SlowDownRead", "XMinioWriteQuorum"])
def test_a_full_read_only_or_degraded_object_store_is_waited_out(code):  # type: ignore[no-untyped-def]
    # Seen in the fault-injection harness: storage dead-lettered 64 cases while MinIO's data folder was
    # full (XMinioStorageFull) or read-only (AccessDenied) — cases lost to a fault that passes.
    assert is_transient(_s3_error(code))


@pytest.mark.parametrize("code", ["NoSuchKey", "InvalidObjectState", "ObjectLocked"])
def test_s3_errors_about_the_request_are_permanent(code):  # type: ignore[no-untyped-def]
    assert not is_transient(_s3_error(code))
