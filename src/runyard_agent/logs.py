"""The console lines of one running task, bounded and batched on their way to the server.

A task's process may print without end; what reaches the server is bounded three ways: a
rate (``rate`` lines a second, in bursts of up to ``burst``), a total of ``max_lines`` lines and
``max_bytes`` bytes. Lines over the rate are counted and the count travels with the next frame
(``dropped``); past the total, one last frame says ``truncated`` and the rest is only drained.
``room()`` tells the reader how many lines would be taken now, so a flooding task is drained
by counting newlines, not by handling each line (heartbeats stay on time).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Literal

from runyard_agent.transfer import ServerLink
from runyard_protocol import MAX_LOG_LINE, MAX_LOG_LINES, LogLine, TaskLog

__all__ = ["LogBudget", "LogSender"]


class LogBudget:
    def __init__(
        self,
        *,
        rate: float = 200.0,
        burst: int = 1000,
        max_lines: int = 10_000,
        max_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_lines = max_lines
        self.max_bytes = max_bytes


class LogSender:
    def __init__(
        self,
        link: ServerLink,
        task_id: str,
        attempt: int,
        budget: LogBudget | None = None,
        interval: float = 0.25,
    ) -> None:
        self._link = link
        self._task_id = task_id
        self._attempt = attempt
        self._budget = budget or LogBudget()
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._tokens = float(self._budget.burst)
        self._refilled = self._loop.time()
        # Lines waiting to be sent, as (lines dropped just before them, the lines): a drop
        # keeps its place between the lines it fell between.
        self._segments: list[tuple[int, list[LogLine]]] = []
        self._lines = 0
        self._bytes = 0
        self.truncated = False
        self._truncation_sent = False
        self._wake = asyncio.Event()
        self._closing = False
        self._pump_task = asyncio.create_task(self._pump())
        self.sent_lines = 0

    def room(self) -> int:
        """How many lines would be taken now (0: drop them, just count)."""
        if self.truncated:
            return 0
        now = self._loop.time()
        self._tokens = min(
            float(self._budget.burst), self._tokens + (now - self._refilled) * self._budget.rate
        )
        self._refilled = now
        return max(0, min(int(self._tokens), self._budget.max_lines - self._lines))

    def lines(self, stream: str, lines: list[str]) -> None:
        kind: Literal["stdout", "stderr"] = "stdout" if stream == "stdout" else "stderr"
        for line in lines:
            if self.truncated:
                return
            size = len(line.encode("utf-8", "replace")) + 1
            if self._lines >= self._budget.max_lines or self._bytes + size > self._budget.max_bytes:
                self.truncated = True
                break
            self._lines += 1
            self._bytes += size
            self._tokens -= 1
            if not self._segments:
                self._segments.append((0, []))
            self._segments[-1][1].append(LogLine(stream=kind, line=line[:MAX_LOG_LINE]))
        self._wake.set()

    def dropped(self, count: int) -> None:
        if count <= 0 or self.truncated:
            return
        if self._segments and not self._segments[-1][1]:
            before, lines = self._segments[-1]
            self._segments[-1] = (before + count, lines)
        else:
            self._segments.append((count, []))
        self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing:
                await asyncio.sleep(self._interval)  # batch what comes meanwhile
            await self._flush()
            if self._closing:
                return

    async def _flush(self) -> None:
        while self._segments or (self.truncated and not self._truncation_sent):
            before, lines = self._segments[0] if self._segments else (0, [])
            batch, rest = lines[:MAX_LOG_LINES], lines[MAX_LOG_LINES:]
            if self._segments:
                if rest:
                    self._segments[0] = (0, rest)
                else:
                    self._segments.pop(0)
            last = not self._segments
            frame = TaskLog(
                task_id=self._task_id,
                attempt=self._attempt,
                lines=batch,
                dropped=before,
                truncated=self.truncated and last,
            )
            if frame.truncated:
                self._truncation_sent = True
            self.sent_lines += len(batch)
            await self._link.send(frame)

    async def close(self) -> None:
        """Send what is left (before the task's outcome)."""
        self._closing = True
        self._wake.set()
        with suppress(asyncio.CancelledError):
            await self._pump_task

    def abort(self) -> None:
        self._pump_task.cancel()
