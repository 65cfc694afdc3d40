"""Following a task, I/O-free: a Server-Sent Events decoder, the ``Follower`` that turns SSE
events (or polled task records) into ``TaskEvent`` callbacks exactly once each, and the timing
rules (deadline, reconnect delay, polling backoff). ``Task.wait`` and ``AsyncTask.wait`` feed it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from runyard_client._errors import AuthenticationError, WaitTimeout, error_from_response
from runyard_client._models import TERMINAL_STATUSES, TaskEvent, TaskInfo

KNOWN_EVENTS = frozenset(
    {"status", "progress", "log", "completed", "failed", "cancelled", "waiting_reason"}
)
ProgressCallback = Callable[[TaskEvent], None]


@dataclass
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


@dataclass
class SSEDecoder:
    """The WHATWG event-stream rules, fed one line at a time (without its line ending)."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    _retry: int | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        if line == "":
            if not self._data and not self._event and self._id is None and self._retry is None:
                return None
            sse = ServerSentEvent(
                self._event or "message", "\n".join(self._data), self._id, self._retry
            )
            self._event, self._data, self._id, self._retry = "", [], None, None
            return sse
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


class Deadline:
    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def check(self, task_id: str) -> None:
        if self.at is not None and time.monotonic() >= self.at:
            raise WaitTimeout(
                f"task {task_id} did not finish within {self.timeout} s "
                "(it keeps running; wait again or cancel it)"
            )

    def cap(self, seconds: float) -> float:
        left = self.remaining()
        return seconds if left is None else min(seconds, left)


def log_lines(data: dict[str, object]) -> list[str]:
    """The text lines of a ``log`` event, with its drops and truncation marked (as
    ``GET /r/tasks/{id}/logs`` writes them)."""
    lines: list[str] = []
    dropped = data.get("dropped")
    if isinstance(dropped, int) and dropped > 0:
        lines.append(f"[runyard] ... {dropped} line(s) dropped (too many too fast) ...")
    items = data.get("lines")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            lines.append(str(item.get("line", "")))
    if data.get("truncated"):
        lines.append("[runyard] ... log truncated: the task printed more than its log keeps")
    return lines


def stream_mode(response: httpx.Response) -> str:
    """``"sse"`` for an event stream, ``"poll"`` when this server has no events endpoint;
    raises the mapped error otherwise (e.g. 404 ``task_not_found``, 401)."""
    if response.is_success:
        ctype = response.headers.get("content-type", "")
        return "sse" if ctype.startswith("text/event-stream") else "poll"
    if response.status_code in (405, 501):
        return "poll"
    error = error_from_response(response)
    if response.status_code == 404 and error.error_code != "task_not_found":
        return "poll"  # the route itself is missing: an older server
    raise error


class Follower:
    """Everything ``wait()`` knows about the task so far."""

    def __init__(self, task_id: str, on_progress: ProgressCallback | None) -> None:
        self.task_id = task_id
        self.on_progress = on_progress
        self.last_id: int | None = None
        self.server_retry: float | None = None
        self.status: str | None = None
        self.progress: float | None = None
        self.done = False
        self.reason: dict[str, Any] | None = None
        self.failures = 0
        self.poll_delay = POLL_MIN

    # -- SSE
    def on_sse(self, sse: ServerSentEvent) -> None:
        if sse.retry is not None:
            self.server_retry = sse.retry / 1000
        if sse.event == "error":
            data = _json(sse.data)
            code = str(data.get("error_code") or "stream_error")
            raise AuthenticationError(
                f"the server closed the event stream: {code}", status_code=401, error_code=code
            )
        if sse.event not in KNOWN_EVENTS:
            return
        seq = int(sse.id) if sse.id is not None and sse.id.strip().isdigit() else None
        if seq is not None and self.last_id is not None and seq <= self.last_id:
            return  # already delivered before a reconnect
        if seq is not None:
            self.last_id = seq
        self.failures = 0
        self._deliver(TaskEvent(event=sse.event, id=seq, data=_json(sse.data)))

    def reconnect_delay(self) -> float:
        """After a dropped stream: the server's ``retry:`` hint at first, then backing off."""
        self.failures += 1
        base = self.server_retry if self.server_retry is not None else 1.0
        return float(min(30.0, base * (2 ** (self.failures - 1))))

    # -- polling
    def on_poll(self, info: TaskInfo) -> None:
        """Synthesise the events SSE would have sent: status, progress, then the terminal one."""
        moved = info.task_status != self.status
        terminal = info.task_status in TERMINAL_STATUSES
        stamp = {"task_id": info.id, "task_status": info.task_status}
        if moved and not terminal:
            self._deliver(TaskEvent(event="status", data=stamp))
        if info.waiting_reason and info.waiting_reason != self.reason:
            self.reason = info.waiting_reason
            self._deliver(
                TaskEvent(event="waiting_reason", data={"task_id": info.id, **info.waiting_reason})
            )
        if info.progress != self.progress and (self.progress is not None or info.progress > 0):
            moved = True
            self._deliver(
                TaskEvent(event="progress", data={"task_id": info.id, "progress": info.progress})
            )
        if terminal and not self.done:
            data = {**stamp, "task_error": info.task_error, "task_error_code": info.task_error_code}
            self._deliver(TaskEvent(event=info.task_status, data=data))
        self.progress = info.progress
        self.poll_delay = POLL_MIN if moved else min(POLL_MAX, self.poll_delay * POLL_FACTOR)

    def _deliver(self, event: TaskEvent) -> None:
        if event.task_status is not None:
            self.status = event.task_status
        if event.progress is not None:
            self.progress = event.progress
        if event.is_terminal:
            self.done = True
            self.status = event.event
        if self.on_progress is not None:
            self.on_progress(event)


POLL_MIN, POLL_MAX, POLL_FACTOR = 0.5, 5.0, 1.5


def _json(text: str) -> dict[str, object]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
