"""Progress of one running task, throttled on its way to the server."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from runyard_agent.runtimes.base import ProgressReport
from runyard_agent.transfer import ServerLink
from runyard_protocol import TaskProgress

__all__ = ["OnLoop", "ProgressSender"]
T = TypeVar("T")


class OnLoop:
    """Runs calls made from any thread (runtimes run in worker threads) on the event loop that
    created it: at once when already on it, else handed over thread-safely."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def call(self, fn: Callable[[T], None], arg: T) -> None:
        if threading.get_ident() == self._thread:
            fn(arg)
            return
        with suppress(RuntimeError):  # the loop is gone: a runtime thread outlived the agent
            self.loop.call_soon_threadsafe(fn, arg)


class ProgressSender:
    """Throttles one task's progress to a frame per ``interval`` at most; the last one always goes.

    ``report`` may be called from any thread (runtimes run in worker threads); frames leave from
    one pump coroutine so they keep their order.
    """

    def __init__(self, link: ServerLink, task_id: str, attempt: int, interval: float) -> None:
        self._link = link
        self._task_id = task_id
        self._attempt = attempt
        self._interval = interval
        self._on_loop = OnLoop()
        self._loop = self._on_loop.loop
        self._latest: ProgressReport | None = None
        self._last_sent = -math.inf
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._pump_task = asyncio.create_task(self._pump())
        self.sent = 0

    def report(self, report: ProgressReport) -> None:
        self._on_loop.call(self._offer, report)

    def _offer(self, report: ProgressReport) -> None:
        self._latest = report
        self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._last_sent + self._interval - self._loop.time()
            if delay > 0 and not self._closing.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
            report, self._latest = self._latest, None
            if report is not None:
                self._last_sent = self._loop.time()
                self.sent += 1
                await self._link.send(self._frame(report))
            if self._closing.is_set() and self._latest is None:
                return

    def _frame(self, report: ProgressReport) -> TaskProgress:
        return TaskProgress(
            task_id=self._task_id,
            attempt=self._attempt,
            progress=min(1.0, max(0.0, report.progress)),
            step_current=report.step_current,
            step_total=report.step_total,
            current_node=report.current_node,
            message=report.message,
        )

    async def close(self) -> None:
        """Send the last pending report, then stop."""
        self._closing.set()
        self._wake.set()
        await self._pump_task

    def abort(self) -> None:
        self._pump_task.cancel()
