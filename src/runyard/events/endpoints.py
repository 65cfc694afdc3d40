from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from runyard.api_docs import errors
from runyard.deps import ClockDep, RuntimeReader, ServicesDep, SettingsDep, UnitDep
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
    principal: RuntimeReader,
    uow: UnitDep,
    services: ServicesDep,
    settings: SettingsDep,
    clock: ClockDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id.")] = None,
    after: Annotated[int | None, Query(ge=0, description="Same as Last-Event-ID.")] = None,
) -> StreamingResponse:
    """Follow a task live. Reconnect with `Last-Event-ID` to get exactly the missed events."""
    # The unit of work ends when this returns: no connection is held for the life of a stream.
    await TaskService(uow, settings, clock).get(principal.team, task_id)
    start = after or 0
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    stream = event_stream(services.db, services.events, settings, clock, principal, task_id, start)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
