"""In-process wake-ups for SSE streams: commits that change a task set its waiters' events.
Streams also poll the log, so events written by another server process arrive too.

``close()`` (the process is shutting down) wakes every stream for good: each ends with a frame
telling its client to reconnect, so no response is left open for the server to cut."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class EventHub:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.closing = False

    def subscribe(self, task_id: str) -> asyncio.Event:
        event = asyncio.Event()
        if self.closing:
            event.set()
        self._waiters[task_id].add(event)
        return event

    def close(self) -> None:
        """The process is stopping: wake every open stream so it says goodbye and ends."""
        self.closing = True
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    def unsubscribe(self, task_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(task_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[task_id]

    def publish_all(self) -> None:
        """Wake every stream (after a notification listener reconnected, or a notification
        naming too many tasks); each reads the log and sleeps again if nothing is new."""
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    def subscriber_count(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    def publish(self, task_ids: set[str]) -> None:
        for task_id in task_ids:
            for event in self._waiters.get(task_id, ()):
                event.set()
