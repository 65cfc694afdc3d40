"""What a ``task.complete.v1`` does: the outputs uploaded through URLs are checked in the store,
the inline ones written to it (``outputs.py``), then the task completes: in one statement on
PostgreSQL when it applies as it stands (``tasks/direct.py``), else through the general path in a
unit of work, which also fails the task ``output_missing`` when its outputs are wrong."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runyard.gateway.outputs import InlineOutputs, discard, missing_output, store_inline
from runyard.metrics.registry import observe_inline_upload
from runyard.tasks.execution import Slot, StaleAttempt, TaskExecution, matching
from runyard.tasks.schemas import TaskOutputBody
from runyard_protocol import TaskComplete, bounded_values

if TYPE_CHECKING:
    from runyard.gateway.handlers import FrameHandler

log = logging.getLogger("runyard.gateway")


async def complete(handler: FrameHandler, frame: TaskComplete) -> None:
    """Apply a completion: outputs uploaded through URLs checked in the store, inline ones
    written to it, then the transition (one statement on PostgreSQL when it applies as it
    stands, else the general path, which also fails the task when its outputs are wrong)."""
    specs = [o.model_dump(exclude={"data"}) for o in frame.outputs]
    sent = [o for o in frame.outputs if o.data is not None]
    granted = handler.conn.granted.pop((frame.task_id, frame.attempt), None)
    if granted is not None:
        known = list(granted.values())  # all granted on this connection: none read back
    else:
        async with handler.db.unit() as uow:
            known = await TaskExecution(uow, handler.settings).slots(
                handler.me, frame.task_id, frame.attempt
            )
    uploaded = matching(
        known, [s for s, o in zip(specs, frame.outputs, strict=True) if o.data is None]
    )
    problem = (
        uploaded if isinstance(uploaded, str) else await missing_output(handler.storage, uploaded)
    )
    inline = InlineOutputs()
    if problem is None:
        inline = await store_inline(
            handler.storage, handler.me, frame.task_id, frame.attempt, sent, known
        )
        problem = inline.problem
    now = handler.clock.now()
    if (
        problem is not None
        or isinstance(uploaded, str)
        or not await completed_directly(handler, frame, specs, uploaded, inline.slots, now)
    ):
        problem = await _complete_in_unit(handler, frame, specs, uploaded, inline, problem, now)
    handler.conn.last_progress_store.pop(frame.task_id, None)
    handler.ended(frame.task_id)
    log.info(
        "%s task=%s attempt=%d agent=%s",
        "failed (outputs)" if problem else "completed",
        frame.task_id,
        frame.attempt,
        handler.conn.agent_id,
    )


async def completed_directly(
    handler: FrameHandler,
    frame: TaskComplete,
    specs: list[dict[str, Any]],
    uploaded: list[Slot],
    inline: list[Slot],
    now: datetime,
) -> bool:
    """The completion in one statement (PostgreSQL), when it applies as it stands."""
    if handler.direct is None:
        return False
    slots = matching([*uploaded, *inline], specs)
    if isinstance(slots, str):
        return False
    values = bounded_values(frame.values)
    body = TaskOutputBody.of(slots, values).model_dump(exclude_defaults=True)
    body.setdefault("outputs", [])
    if not await handler.direct.complete(
        handler.me,
        frame.task_id,
        frame.attempt,
        now,
        body=body,
        values=values,
        positions=list(enumerate(slots)),
        inline=inline,
    ):
        return False
    observe_inline_upload(handler.db, "ok", len(inline))
    return True


async def _complete_in_unit(
    handler: FrameHandler,
    frame: TaskComplete,
    specs: list[dict[str, Any]],
    uploaded: list[Slot] | str,
    inline: InlineOutputs,
    problem: str | None,
    now: datetime,
) -> str | None:
    """The general path: complete, or fail ``output_missing`` saying what is wrong (returned);
    what was written for inline outputs is removed when the completion does not apply."""
    sent = sum(o.data is not None for o in frame.outputs)
    try:
        async with handler.db.unit() as uow:
            ex = TaskExecution(uow, handler.settings)
            if problem is None and not isinstance(uploaded, str):
                # The slots checked above are the ones completed: not read a second time.
                done = await ex.complete(
                    handler.me,
                    frame.task_id,
                    frame.attempt,
                    specs,
                    now,
                    values=bounded_values(frame.values),
                    known=uploaded,
                    inline=inline.slots,
                )
                problem = done if isinstance(done, str) else None
            if problem is not None:
                await ex.fail(
                    handler.me,
                    frame.task_id,
                    frame.attempt,
                    "output_missing",
                    "The agent reported completion but " + problem + ".",
                    now,
                )
        observe_inline_upload(handler.db, "refused" if problem else "ok", sent)
    except StaleAttempt:
        await discard(handler.storage, inline.written)
        raise
    if problem is not None:
        await discard(handler.storage, inline.written)
    return problem
