"""The one shape of the server's background work: a pass run every ``interval`` seconds, or at
once when ``wake()`` is called, in its own asyncio task. A failing pass is logged and retried;
``stop()`` cancels it. The dispatcher, the reaper and the retention sweeper are such loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("runyard.background")


class BackgroundLoop:
    name = "background"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> object:
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"runyard-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s pass failed; retrying", self.name)
                await asyncio.sleep(min(1.0, self.interval))
