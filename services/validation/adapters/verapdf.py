"""A client of the stack's veraPDF server (deploy/local/lib/VeraPdfServer.java: one long-lived JVM,
started by deploy/local/stack.sh like Kafka) over loopback HTTP: POST the PDF, get veraPDF's verdict on
its declared PDF/A flavour. Unreachable, timed out or answering 5xx: `VeraPdfUnavailable`, a transient
fault — the case waits for veraPDF as it waits for clamd; a file is never called conforming unchecked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from services.common.faults import TransientFault
from services.validation.formats.facts import PdfaReport
from services.validation.formats.source import Source


class VeraPdfUnavailable(TransientFault):
    """veraPDF could not be reached or did not answer in time."""


class VeraPdfClient:
    def __init__(self, base_url: str, *, timeout: float = 120.0, connect_timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)

    async def validate(self, data: bytes | Source, flavour: str) -> PdfaReport:
        source = Source.of(data)

        async def upload() -> AsyncIterator[bytes]:  # streamed from the spooled file, with its length
            for chunk in source.chunks():
                yield chunk

        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    f"{self.base_url}/validate",
                    params={"flavour": flavour},
                    content=upload(),
                    headers={"Content-Length": str(source.size)},
                )
        except httpx.HTTPError as exc:
            raise VeraPdfUnavailable(f"veraPDF at {self.base_url} did not answer: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise VeraPdfUnavailable(f"veraPDF at {self.base_url} answered {response.status_code}")
        if response.status_code != 200:
            return PdfaReport(
                flavour, None, error=f"veraPDF refused the file: {response.status_code} {response.text[:200]}"
            )
        body = response.json()
        return PdfaReport(
            flavour=body.get("flavour") or flavour,
            compliant=body.get("compliant"),
            failed_checks=int(body.get("failed_checks") or 0),
            failed_rules=tuple(body.get("failed_rules") or ()),
            error=body.get("error"),
        )

    async def health(self) -> str:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(f"{self.base_url}/health")
        except httpx.HTTPError as exc:
            raise VeraPdfUnavailable(f"veraPDF at {self.base_url} did not answer: {exc}") from exc
        return response.text
