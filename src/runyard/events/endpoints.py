from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from runyard.api_docs import errors
from runyard.deps import ClockDep, RuntimeReader, SessionDep, SettingsDep
from runyard.events.stream import event_stream
from runyard.tasks.service import TaskService

router = APIRouter(prefix="/r/tasks", tags=["runtime"])

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `status`, `progress`, `completed`, `failed`, "
        "`cancelled`; the stream ends after the terminal event.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/{task_id}/events",
    operation_id="tasks_events",
    response_class=StreamingResponse,
    responses={**_SSE_DOC, **errors(404)},
)
async def task_events(
    task_id: str,
    request: Request,
    principal: RuntimeReader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id.")] = None,
    after: Annotated[int | None, Query(ge=0, description="Same as Last-Event-ID.")] = None,
) -> StreamingResponse:
    """Follow a task live. Reconnect with `Last-Event-ID` to get exactly the missed events."""
    assert principal.team_id
    await TaskService(session, settings, clock).get(principal.team_id, task_id)
    await session.close()  # never hold a database connection for the life of a stream
    start = after or 0
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    stream = event_stream(
        request.app.state.db, request.app.state.events, settings, clock, principal, task_id, start
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
