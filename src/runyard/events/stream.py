"""The SSE generator: replay from ``Last-Event-ID``, then live events, keep-alives, and the end
after the terminal event. It reads nothing itself: the process's ``EventFeed`` hands it the
events of its task (one read serves every stream of a task); it holds no session while waiting,
and its credential is rechecked through ``events.credentials`` (one read per credential).

When the server process stops (``EventFeed.close``), an open stream ends with ``RECONNECT``: a
``reconnect`` event with a ``retry:`` hint and no ``id`` (so the client's ``Last-Event-ID``
stays on the last real event), then a properly terminated body. The client reconnects, through
the load balancer, to a process that is not stopping and misses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from runyard.auth.principal import Principal
from runyard.events.feed import EventFeed
from runyard.settings import Settings

TERMINAL_EVENTS = {"completed", "failed", "cancelled"}
WAITING = {"pending", "waiting"}
NOT_WAITING = ""  # the task's last status is known and is not one a reason is given for
Reasons = Callable[[], Awaitable[Mapping[str, Any] | None]]
RECONNECT_AFTER_MS = 1000
RECONNECT = (
    f'retry: {RECONNECT_AFTER_MS}\nevent: reconnect\ndata: {{"reason":"server_shutdown"}}\n\n'
)


def format_event(seq: int, event: str, data: object) -> str:
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def format_reason(data: Mapping[str, Any]) -> str:
    """A ``waiting_reason`` event: no ``id`` (it is computed, not stored: a replay from
    ``Last-Event-ID`` never repeats it and the client's last id stays on a real event)."""
    return f"event: waiting_reason\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def event_stream(
    feed: EventFeed,
    settings: Settings,
    principal: Principal,
    task_id: str,
    after: int,
    reasons: Reasons | None = None,
) -> AsyncIterator[str]:
    """``reasons`` reads why the task waits (None when it does not): read when the stream has
    caught up, after each status event to pending or waiting, and every
    ``events.waiting_recheck`` seconds while it waits; sent when it changed."""
    sub = feed.subscribe(task_id, after)
    last_sent = time.monotonic()
    last_auth = time.monotonic()
    status: str | None = None  # unknown until a status event or a read says
    reason_due = 0.0 if reasons is not None else float("inf")
    reason_sent = ""
    try:
        yield "retry: 2000\n\n"
        while True:
            if feed.closing:
                yield RECONNECT
                return
            sub.woken.clear()
            events = sub.take()
            for e in events:
                yield format_event(e.seq, e.event, e.data)
                last_sent = time.monotonic()
                if e.event in TERMINAL_EVENTS:
                    return
                if e.event == "status" and reasons is not None:
                    status = str(e.data.get("task_status", NOT_WAITING))
                    reason_due = 0.0 if status in WAITING else float("inf")
            if events:
                continue
            if sub.finished:
                return  # finished but its history was pruned by retention: nothing will come
            now = time.monotonic()
            if reasons is not None and now >= reason_due and status != NOT_WAITING:
                waiting = await reasons()
                if waiting is None:
                    status, reason_due = NOT_WAITING, float("inf")
                else:
                    reason_due = now + settings.events.waiting_recheck
                    text = format_reason(waiting)
                    if text != reason_sent:
                        yield text
                        reason_sent, last_sent = text, time.monotonic()
                continue
            recheck = settings.auth.key_recheck_interval / 2  # shared reads: see credentials.py
            if now - last_auth >= recheck:
                last_auth = now
                reason = await feed.credentials.refusal(principal)
                if reason is not None:
                    yield f'event: error\ndata: {{"error_code":"{reason}"}}\n\n'
                    return
            if now - last_sent >= settings.events.keepalive:
                yield ": keep-alive\n\n"
                last_sent = now
            timeout = max(
                0.05,
                min(
                    settings.events.keepalive - (now - last_sent),
                    recheck - (now - last_auth),
                    reason_due - now,
                ),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.woken.wait(), timeout)
    finally:
        feed.unsubscribe(sub)
