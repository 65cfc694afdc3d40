"""What a ``task.complete.v1`` does: the outputs uploaded through URLs are checked in the store,
the inline ones written to it (``outputs.py``), then the task completes through the transition
seam (``TaskTransitions.complete``), which also fails it ``output_missing`` when its outputs are
wrong; what was written for inline outputs is removed when the completion does not apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.gateway.outputs import InlineOutputs, discard, missing_output, store_inline
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tasks.execution import AgentRef, Slot, StaleAttempt, TaskExecution, matching
from runyard.tasks.transitions import Completion, TaskTransitions
from runyard_protocol import TaskComplete, bounded_values


@dataclass(frozen=True)
class CompletionContext:
    """What a completion needs of the connection's handler (given, not imported, so this module
    and ``handlers.py`` do not import each other)."""

    db: Database
    settings: Settings
    storage: Storage
    clock: Clock
    transitions: TaskTransitions
    me: AgentRef


async def complete(
    ctx: CompletionContext, frame: TaskComplete, granted: Sequence[Slot] | None
) -> str | None:
    """Apply a completion; what was wrong with its outputs (the task then failed), or None.
    ``granted``: the attempt's slots when all were granted on this connection (else read)."""
    specs = [o.model_dump(exclude={"data"}) for o in frame.outputs]
    sent = [o for o in frame.outputs if o.data is not None]
    if granted is not None:
        known = list(granted)  # all granted on this connection: none read back
    else:
        async with ctx.db.unit() as uow:
            known = await TaskExecution(uow, ctx.settings).slots(
                ctx.me, frame.task_id, frame.attempt
            )
    uploaded = matching(
        known, [s for s, o in zip(specs, frame.outputs, strict=True) if o.data is None]
    )
    problem = uploaded if isinstance(uploaded, str) else await missing_output(ctx.storage, uploaded)
    inline = InlineOutputs()
    if problem is None:
        inline = await store_inline(ctx.storage, ctx.me, frame.task_id, frame.attempt, sent, known)
        problem = inline.problem
    done = Completion(
        specs=specs,
        values=bounded_values(frame.values),
        uploaded=uploaded,
        inline=inline.slots,
        sent=len(sent),
        problem=problem,
    )
    try:
        problem = await ctx.transitions.complete(
            ctx.me, frame.task_id, frame.attempt, ctx.clock.now(), done
        )
    except StaleAttempt:
        await discard(ctx.storage, inline.written)
        raise
    if problem is not None:
        await discard(ctx.storage, inline.written)
    return problem
