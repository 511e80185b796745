"""A client of clamd's INSTREAM command over TCP (asyncio), for the virus check.

Protocol (clamd(8)): send `zINSTREAM\\0`, then the data in chunks, each prefixed with its length as a
4-byte big-endian integer, then a zero-length chunk; clamd answers one NUL-terminated line:
`stream: OK`, `stream: <signature> FOUND`, or `... ERROR` (e.g. the stream exceeded StreamMaxLength).

A refused or broken connection raises `TransientFault` (the runner retries: cases wait until clamd is
back). An `ERROR` answer is returned as `error` — the file was NOT scanned, and the caller must never
report it as clean.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from services.common.faults import TransientFault
from services.validation.formats.source import Source

CHUNK = 256 * 1024


@dataclass(frozen=True)
class ClamdVerdict:
    status: Literal["clean", "infected", "error"]
    signature: str | None = None
    raw: str = ""


class ClamdUnavailable(TransientFault):
    """clamd could not be reached or dropped the connection."""


class ClamdClient:
    def __init__(self, host: str, port: int, *, timeout: float = 120.0, connect_timeout: float = 5.0) -> None:
        self.host, self.port = host, port
        self.timeout, self.connect_timeout = timeout, connect_timeout

    async def _request(self, payload_parts: Iterable[bytes]) -> str:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout=self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise ClamdUnavailable(f"clamd at {self.host}:{self.port} is not reachable: {exc}") from exc
        try:
            for part in payload_parts:
                writer.write(part)
                await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(b"\0"), timeout=self.timeout)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                return exc.partial.rstrip(b"\0").decode("utf-8", "replace").strip()
            raise ClamdUnavailable(f"clamd at {self.host}:{self.port} closed the connection") from exc
        except (OSError, TimeoutError) as exc:
            raise ClamdUnavailable(f"clamd at {self.host}:{self.port} failed during the scan: {exc}") from exc
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

    async def ping(self) -> bool:
        return await self._request([b"zPING\0"]) == "PONG"

    async def scan(self, data: bytes | Source) -> ClamdVerdict:
        """INSTREAM the file chunk by chunk as it is read (a spooled file is never whole in memory)."""
        source = Source.of(data)

        def parts() -> Iterator[bytes]:
            yield b"zINSTREAM\0"
            for chunk in source.chunks(CHUNK):
                yield struct.pack(">I", len(chunk)) + chunk
            yield struct.pack(">I", 0)

        reply = await self._request(parts())
        return parse_reply(reply)


def parse_reply(reply: str) -> ClamdVerdict:
    body = reply.split(":", 1)[1].strip() if ":" in reply else reply
    if body.endswith("FOUND"):
        return ClamdVerdict("infected", body[: -len("FOUND")].strip(), reply)
    if body == "OK":
        return ClamdVerdict("clean", None, reply)
    return ClamdVerdict("error", None, reply)
