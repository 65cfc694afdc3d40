"""Live preview images of one running task, throttled on their way to the server.

Only the latest preview is kept; at most one ``task.preview.v1`` leaves per ``interval``
seconds. Previews larger than ``MAX_PREVIEW_BYTES`` or of another image type are skipped. Unlike
progress, the last pending preview is dropped when the task ends: it would only be shown while
the task runs.
"""

from __future__ import annotations

import asyncio
import base64
import math
from contextlib import suppress

from runyard_agent.progress import OnLoop
from runyard_agent.runtimes.base import PreviewImage
from runyard_agent.transfer import ServerLink
from runyard_protocol import MAX_PREVIEW_BYTES, PREVIEW_TYPES, TaskPreview

__all__ = ["PreviewSender"]


class PreviewSender:
    """``offer`` may be called from any thread; frames leave from one pump coroutine."""

    def __init__(self, link: ServerLink, task_id: str, attempt: int, interval: float) -> None:
        self._link = link
        self._task_id = task_id
        self._attempt = attempt
        self._interval = interval
        self._on_loop = OnLoop()
        self._loop = self._on_loop.loop
        self._latest: PreviewImage | None = None
        self._last_sent = -math.inf
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()  # close() never cuts a frame half sent
        self._pump_task = asyncio.create_task(self._pump())
        self.sent = 0
        self.skipped = 0

    def offer(self, preview: PreviewImage) -> None:
        if preview.content_type not in PREVIEW_TYPES or len(preview.data) > MAX_PREVIEW_BYTES:
            self.skipped += 1
            return
        self._on_loop.call(self._keep, preview)

    def _keep(self, preview: PreviewImage) -> None:
        self._latest = preview
        self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._last_sent + self._interval - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            preview, self._latest = self._latest, None
            if preview is None:
                continue
            self._last_sent = self._loop.time()
            self.sent += 1
            frame = TaskPreview(
                task_id=self._task_id,
                attempt=self._attempt,
                content_type=preview.content_type,
                data=base64.b64encode(preview.data).decode("ascii"),
                node=preview.node[:200] if preview.node else None,
            )
            async with self._sending:
                await self._link.send(frame)

    async def close(self) -> None:
        """Stop once a frame being sent is out; a preview still waiting for its turn is
        dropped (the task has ended: it would only be refused as stale)."""
        async with self._sending:
            self._pump_task.cancel()
        with suppress(asyncio.CancelledError):
            await self._pump_task

    def abort(self) -> None:
        self._pump_task.cancel()
