"""Fetching a material from a platform's file service over HTTP(S), streamed: the body goes through
SHA-256 and SM3 and into a temporary file chunk by chunk, so a large file is never held in memory.

Transient trouble (connect errors, timeouts, 5xx, 429) is retried a few times with backoff; if it
persists, or the server answers 4xx, the material is "unreachable" and the case goes back to its
platform — a file service that is down for hours must not stop the whole partition. A file over the
size cap is refused as soon as that is known (Content-Length, or while streaming).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from services.common.digests import DigestStream

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    attempts: int = 4
    backoff_initial: float = 0.5
    max_file_bytes: int = 1024 * 1024 * 1024


class FetchFailed(Exception):
    """The material could not be fetched; `kind` is "unreachable" or "too_large"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class Fetched:
    """A fetched body in a temporary file (deleted when closed), with its size and digests."""

    file: IO[bytes]
    size: int
    sha256: str
    sm3: str
    content_type: str | None

    def close(self) -> None:
        self.file.close()


class HttpFileFetcher:
    def __init__(self, limits: FetchLimits, spool_dir: Path | None = None) -> None:
        self.limits = limits
        self.spool_dir = spool_dir
        timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=3)

    async def close(self) -> None:
        await self.client.aclose()

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Fetched:
        if not url.lower().startswith(("http://", "https://")):
            raise FetchFailed("unreachable", f"only http(s) URLs are fetched, not {url.split(':', 1)[0]!r}")
        cap = min(self.limits.max_file_bytes, max_bytes if max_bytes is not None else self.limits.max_file_bytes)
        delay = self.limits.backoff_initial
        last = "no attempt made"
        for attempt in range(1, self.limits.attempts + 1):
            try:
                return await self._once(url, cap)
            except _Retry as exc:
                last = str(exc)
                log.warning("fetch failed, will retry", extra={"url": url, "attempt": attempt, "error": last})
            if attempt < self.limits.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        raise FetchFailed("unreachable", f"{last} (after {self.limits.attempts} attempts)")

    async def _once(self, url: str, cap: int) -> Fetched:
        spool = tempfile.TemporaryFile(dir=self.spool_dir)  # handed to the caller, who closes it
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retry(f"HTTP {response.status_code} from {url}")
                if response.status_code >= 400:
                    raise FetchFailed("unreachable", f"HTTP {response.status_code} from {url}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise FetchFailed("too_large", f"{declared} bytes announced; the limit is {cap}")
                digest = DigestStream()
                async for chunk in response.aiter_bytes(CHUNK):
                    if digest.size + len(chunk) > cap:
                        raise FetchFailed("too_large", f"more than {cap} bytes; the limit is {cap}")
                    digest.update(chunk)
                    spool.write(chunk)
            spool.seek(0)
            got = digest.digests()
            return Fetched(spool, got.size, got.sha256, got.sm3, response.headers.get("content-type"))
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            spool.close()
            raise _Retry(f"{type(exc).__name__} fetching {url}: {exc}") from exc
        except BaseException:
            spool.close()
            raise


class _Retry(Exception):
    pass
