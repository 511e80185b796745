"""toxiproxy's HTTP API (https://github.com/Shopify/toxiproxy#http-api): one proxy per server, and the
toxics that make a link slow, stalled or reset."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

# Fault kind -> (toxic type, attributes). `timeout` with 0 holds every byte until the toxic is removed
# (a stall: connections stay open, nothing moves); `reset_peer` with 0 answers data with a TCP RST.
TOXICS: dict[str, tuple[str, dict[str, Any]]] = {
    "latency": ("latency", {"latency": 400, "jitter": 200}),
    "stall": ("timeout", {"timeout": 0}),
    "reset": ("reset_peer", {"timeout": 0}),
}


class Toxiproxy:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"toxiproxy {method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from exc
        return json.loads(text) if text.strip() else None

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self._call, method, path, body)

    async def ensure_proxy(self, name: str, listen_port: int, upstream_port: int) -> None:
        existing = await self.call("GET", "/proxies")
        spec = {"name": name, "listen": f"127.0.0.1:{listen_port}", "upstream": f"127.0.0.1:{upstream_port}"}
        if name in existing:
            await self.call("POST", f"/proxies/{name}", {**spec, "enabled": True})
        else:
            await self.call("POST", "/proxies", {**spec, "enabled": True})

    async def add_toxic(self, proxy: str, kind: str) -> str:
        toxic_type, attributes = TOXICS[kind]
        name = f"chaos-{kind}"
        for stream in ("downstream", "upstream"):
            await self.call(
                "POST",
                f"/proxies/{proxy}/toxics",
                {
                    "name": f"{name}-{stream}",
                    "type": toxic_type,
                    "stream": stream,
                    "toxicity": 1.0,
                    "attributes": attributes,
                },
            )
        return name

    async def remove_toxic(self, proxy: str, name: str) -> None:
        for stream in ("downstream", "upstream"):
            await self.call("DELETE", f"/proxies/{proxy}/toxics/{name}-{stream}")

    async def reset(self) -> None:
        """Every toxic removed, every proxy enabled."""
        await self.call("POST", "/reset")
