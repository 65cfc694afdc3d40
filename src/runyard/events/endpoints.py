from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from runyard.api_docs import errors
from runyard.deps import ClockDep, DatabaseDep, RuntimeReader, SettingsDep, UnitDep
from runyard.errors import BadRequest
from runyard.events.feed import EventFeed
from runyard.events.logs import log_text
from runyard.events.repository import EventLog
from runyard.events.stream import event_stream
from runyard.providers import provider
from runyard.tasks.service import TaskService
from runyard.tasks.waiting import WaitingReasons

router = APIRouter(prefix="/r/tasks", tags=["runtime"])

# Event ids are the per-task ``seq`` column (a 32-bit integer): nothing larger can be resumed from.
MAX_EVENT_ID = 2**31 - 1
_EVENT_ID = re.compile(r"[0-9]{1,10}")


def parse_event_id(raw: str) -> int:
    """The id in a ``Last-Event-ID`` header; ASCII digits only, within the column's range."""
    value = raw.strip()
    if not _EVENT_ID.fullmatch(value) or int(value) > MAX_EVENT_ID:
        raise BadRequest(
            "Last-Event-ID must be the id of an event this stream sent (a whole number from 0 "
            f"to {MAX_EVENT_ID}); reconnect without it to replay from the start.",
            code="invalid_event_id",
        )
    return int(value)


_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `status`, `progress`, `preview`, `log` (console "
        "lines of a deployed Python task: `lines` of `{stream, line}`, `dropped`, `truncated`), "
        "`completed`, `failed`, `cancelled`; the stream ends after the terminal event. While the "
        "task is pending or waiting, `waiting_reason` events (no `id`: computed, never replayed) "
        "say why, as `GET /r/tasks/{task_id}`'s `waiting_reason` does, each time it changes.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/{task_id}/events",
    operation_id="tasks_events",
    response_class=StreamingResponse,
    responses={**_SSE_DOC, **errors(400, 404)},
)
async def task_events(
    task_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    db: DatabaseDep,
    feed: Annotated[EventFeed, Depends(provider("feed", EventFeed))],
    settings: SettingsDep,
    clock: ClockDep,
    last_event_id: Annotated[
        str | None,
        Header(description="Resume after this event id (a whole number, 0 to 2147483647)."),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Same as Last-Event-ID.")
    ] = None,
) -> StreamingResponse:
    """Follow a task live. Reconnect with `Last-Event-ID` to get exactly the missed events.

    A `Last-Event-ID` that is not an id this server could have sent (a whole number from 0 to
    2147483647) answers 400 `invalid_event_id`; an out-of-range `after` answers 422."""
    start = after or 0
    if last_event_id is not None and last_event_id.strip():
        start = parse_event_id(last_event_id)
    # The unit of work ends when this returns: no connection is held for the life of a stream.
    await TaskService(uow, settings, clock).get(principal.team, task_id)
    reasons = WaitingReasons(db)
    team = principal.team

    async def reason() -> dict[str, Any] | None:
        found = await reasons.of(team, task_id)
        return None if found is None else {"task_id": task_id, **found.model_dump(mode="json")}

    stream = event_stream(feed, settings, principal, task_id, start, reason)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{task_id}/logs",
    operation_id="tasks_logs",
    response_class=Response,
    responses={
        200: {
            "description": "The task's console lines so far, as text.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(404),
    },
)
async def task_logs(
    task_id: str, principal: RuntimeReader, uow: UnitDep, settings: SettingsDep, clock: ClockDep
) -> PlainTextResponse:
    """What the task's process printed (stdout, stderr, `logging`), every attempt in order; a
    task with no console (a built-in, a ComfyUI graph) has an empty log. Follow it live with
    the `log` events of `GET /r/tasks/{task_id}/events`."""
    await TaskService(uow, settings, clock).get(principal.team, task_id)
    events = await EventLog(uow.session).of_kind(task_id, "log")
    return PlainTextResponse(log_text(events), media_type="text/plain; charset=utf-8")
