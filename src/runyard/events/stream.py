"""The SSE generator: replay from ``Last-Event-ID``, then live events, keep-alives, and the end
after the terminal event. It opens a short session per read; it never holds one while waiting.

When the server process stops (``EventHub.close``), an open stream ends with ``RECONNECT``: a
``reconnect`` event with a ``retry:`` hint and no ``id`` (so the client's ``Last-Event-ID``
stays on the last real event), then a properly terminated body. The client reconnects, through
the load balancer, to a process that is not stopping and misses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from runyard.auth.principal import Principal
from runyard.auth.repository import AuthRepository
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.events.hub import EventHub
from runyard.settings import Settings
from runyard.tasks.repository import TaskQueue

TERMINAL_EVENTS = {"completed", "failed", "cancelled"}
RECONNECT_AFTER_MS = 1000
RECONNECT = (
    f'retry: {RECONNECT_AFTER_MS}\nevent: reconnect\ndata: {{"reason":"server_shutdown"}}\n\n'
)


def format_event(seq: int, event: str, data: object) -> str:
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def refusal(db: Database, principal: Principal, clock: Clock) -> str | None:
    """Why the stream must end now (its credential no longer works, or its user left the
    team: a removed member's streams end), else None."""
    async with db.session() as session:
        repo = AuthRepository(session)
        if principal.key_id is not None:
            if not await repo.key_usable(principal.key_id, clock.now()):
                return "credential_revoked"
        elif principal.session_id is not None and not await repo.family_active(
            principal.session_id
        ):
            return "credential_revoked"
        user, team = principal.user_id, principal.team_id
        if user is not None and team is not None and not await repo.membership(team, user):
            return "not_a_member"
    return None


async def event_stream(
    db: Database,
    hub: EventHub,
    settings: Settings,
    clock: Clock,
    principal: Principal,
    task_id: str,
    after: int,
) -> AsyncIterator[str]:
    wake = hub.subscribe(task_id)
    last_sent = time.monotonic()
    last_auth = time.monotonic()
    try:
        yield "retry: 2000\n\n"
        while True:
            if hub.closing:
                yield RECONNECT
                return
            wake.clear()
            async with db.session() as session:
                repo = TaskQueue(session)
                # Status first: once it reads terminal, the terminal event (same commit) is
                # visible to the read that follows.
                finished = await repo.is_finished(task_id)
                events = await repo.events_after(task_id, after)
            for e in events:
                after = e.seq
                yield format_event(e.seq, e.event, e.data)
                last_sent = time.monotonic()
                if e.event in TERMINAL_EVENTS:
                    return
            if events:
                continue
            if finished:
                return  # finished but its history was pruned by retention: nothing will come
            now = time.monotonic()
            if now - last_auth >= settings.auth.key_recheck_interval:
                last_auth = now
                reason = await refusal(db, principal, clock)
                if reason is not None:
                    yield f'event: error\ndata: {{"error_code":"{reason}"}}\n\n'
                    return
            if now - last_sent >= settings.events.keepalive:
                yield ": keep-alive\n\n"
                last_sent = now
            timeout = min(
                settings.events.poll_interval,
                max(0.05, settings.events.keepalive - (now - last_sent)),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
    finally:
        hub.unsubscribe(task_id, wake)
