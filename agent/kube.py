"""Keep this pod's deletion cost equal to its live calls, so Kubernetes scales idle pods down first."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import structlog

log = structlog.get_logger(__name__)
ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


class DeletionCost:
    """Patches the pod's annotation through the Kubernetes API whenever the live-call count changes."""

    def __init__(self, api_url: str, namespace: str, pod: str, token_file: Path, ca_file: Path | None):
        """Talk to `api_url` as the pod's service account."""
        self._url = f"{api_url.rstrip('/')}/api/v1/namespaces/{namespace}/pods/{pod}"
        self._token_file = token_file
        self._ca_file = ca_file
        self._wanted = 0
        self._sent: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def set(self, live_calls: int) -> None:
        """Ask for the annotation to become `live_calls` (patched in the background, coalesced)."""
        self._wanted = live_calls
        self._wake.set()

    async def start(self) -> None:
        """Start the background patcher and publish the current value."""
        self._task = asyncio.create_task(self._loop(), name="pod-deletion-cost")
        self._wake.set()

    async def stop(self) -> None:
        """Stop the patcher."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        ssl_ctx: ssl.SSLContext | bool = True
        if self._ca_file is not None and self._ca_file.exists():
            ssl_ctx = ssl.create_default_context(cafile=str(self._ca_file))
        async with aiohttp.ClientSession() as http:
            while True:
                await self._wake.wait()
                self._wake.clear()
                value = self._wanted
                if value == self._sent:
                    continue
                token = await asyncio.to_thread(self._token_file.read_text)
                body = {"metadata": {"annotations": {ANNOTATION: str(value)}}}
                try:
                    async with http.patch(
                        self._url,
                        json=body,
                        ssl=ssl_ctx,
                        headers={
                            "Authorization": f"Bearer {token.strip()}",
                            "Content-Type": "application/merge-patch+json",
                        },
                    ) as resp:
                        if resp.status >= 300:
                            log.warning("deletion_cost_patch_failed", status=resp.status)
                        else:
                            self._sent = value
                except aiohttp.ClientError as exc:
                    log.warning("deletion_cost_patch_failed", error=str(exc))
                    await asyncio.sleep(1.0)
                    self._wake.set()
