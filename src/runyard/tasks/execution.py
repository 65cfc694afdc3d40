"""What agents do to tasks, fenced by (team, agent, attempt): ack, progress, output slots,
completion, failure, cancel confirmation, hand-back. Never commits; the gateway's unit of work
for the frame does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from runyard.db.unit import UnitOfWork
from runyard.files.naming import output_key, safe_file_name
from runyard.models import Task, TaskOutput
from runyard.settings import Settings
from runyard.states import HELD, TaskStatus
from runyard.tasks import lifecycle
from runyard.tasks.repository import TaskQueue
from runyard.tasks.schemas import TaskOutputBody


class StaleAttempt(Exception):
    """The frame is about an attempt that is no longer current (or not this agent's)."""


@dataclass(frozen=True)
class AgentRef:
    team_id: str
    agent_id: str


@dataclass(frozen=True)
class Slot:
    """An output slot as granted to an attempt: what its upload and its completion need."""

    output_id: str
    file_name: str
    content_type: str
    file_size: int
    object_key: str
    sha256: str | None = None  # as reported with the completion (or hashed, when inline)

    @classmethod
    def of(cls, row: TaskOutput) -> Slot:
        return cls(
            row.output_id,
            row.file_name,
            row.content_type,
            row.file_size,
            row.object_key,
            row.sha256,
        )


class TaskExecution:
    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.repo = TaskQueue(uow.session)
        self.settings = settings
        self._locked: dict[str, Task] = {}
        self._granted: dict[tuple[str, int], list[Slot]] = {}  # slots added in this unit

    async def fenced(self, agent: AgentRef, task_id: str, attempt: int) -> Task:
        """The task, locked for this unit of work, if this is its agent's current attempt."""
        task = self._locked.get(task_id)
        if task is None:  # locked once per unit of work; the row is ours until it commits
            task = await self.repo.get_any(task_id, for_update=True)
            if task is not None:
                self._locked[task_id] = task
        if (
            task is None
            or task.team_id != agent.team_id
            or task.agent_id != agent.agent_id
            or task.attempt != attempt
            or task.task_status not in HELD
        ):
            raise StaleAttempt(task_id)
        return task

    async def ack(self, agent: AgentRef, task_id: str, attempt: int, now: datetime) -> None:
        task = await self.fenced(agent, task_id, attempt)
        if task.task_status is TaskStatus.QUEUED:
            lifecycle.move(self.uow, task, TaskStatus.RUNNING, now)

    async def progress(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        now: datetime,
        report: lifecycle.Report,
        *,
        store: bool,
    ) -> None:
        task = await self.fenced(agent, task_id, attempt)
        if task.task_status is TaskStatus.QUEUED:
            lifecycle.move(self.uow, task, TaskStatus.RUNNING, now)
        lifecycle.progress(self.uow, task, now, report, store=store)

    def preview_event(self, task: Task, now: datetime, content_type: str, node: str | None) -> None:
        """Announce a new live preview (the task is fenced by the caller)."""
        lifecycle.preview(self.uow, task, now, content_type=content_type, node=node)

    async def grant_output(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        output_id: str,
        file_name: str,
        content_type: str,
        file_size: int,
        now: datetime,
        *,
        known: Sequence[Slot] | None = None,
    ) -> Slot:
        """A slot for ``output_id`` (the same one when asked again). ``known``: every slot this
        attempt had before this unit of work, when the caller knows them all (then they are not
        read back; those added in this unit are counted too)."""
        task = await self.fenced(agent, task_id, attempt)
        added = self._granted.setdefault((task_id, attempt), [])
        slots = None if known is None else [*known, *added]
        if slots is not None and all(slot.output_id != output_id for slot in slots):
            index = len(slots)
        else:
            existing = await self.repo.outputs(task.id, attempt)
            for old in existing:
                if old.output_id == output_id:
                    old.file_size, old.content_type = file_size, content_type
                    return Slot.of(old)
            index = len(existing)
        name = safe_file_name(file_name)
        row = TaskOutput(
            task_id=task.id,
            attempt=attempt,
            position=index,
            output_id=output_id,
            file_name=name,
            content_type=content_type,
            file_size=file_size,
            object_key=output_key(task.team_id, task.id, attempt, index, name),
            output_status="granted",
            created_at=now,
        )
        self.repo.add(row)  # written with the unit's other changes, at its commit
        slot = Slot.of(row)
        added.append(slot)
        return slot

    async def slots(self, agent: AgentRef, task_id: str, attempt: int) -> list[Slot]:
        """Every output slot granted to the attempt, read from the database."""
        task = await self.fenced(agent, task_id, attempt)
        return [Slot.of(r) for r in await self.repo.outputs(task.id, attempt)]

    async def complete(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        outputs: list[dict[str, Any]],
        now: datetime,
        *,
        values: dict[str, Any] | None = None,
        known: Sequence[Slot] | None = None,
        inline: Sequence[Slot] = (),
    ) -> Task | str:
        """Complete with the reported output files, in their order, and the non-file
        ``values`` (text…); an error message (and nothing changed) when the files do not match
        the outputs granted to this attempt. ``known``: the attempt's slots as the caller has
        them already (at least the reported ones); read from the database when None.
        ``inline``: outputs the agent sent inside its completion, already in the store under
        their keys; they become results without an upload slot."""
        task = await self.fenced(agent, task_id, attempt)
        if known is None:
            known = [Slot.of(r) for r in await self.repo.outputs(task.id, attempt)]
        slots = matching([*known, *inline], outputs)
        if isinstance(slots, str):
            return slots
        if task.task_status is TaskStatus.QUEUED:
            # A completion implies the ack (it may have been lost with an old connection).
            lifecycle.move(self.uow, task, TaskStatus.RUNNING, now)
        body = TaskOutputBody.of(slots, values).model_dump(exclude_defaults=True)
        body.setdefault("outputs", [])
        task.output_values = dict(values) if values else None
        if not lifecycle.complete(self.uow, task, now, body, self.settings.retention.outputs):
            raise StaleAttempt(task_id)  # unreachable while fenced: held tasks may complete
        sent = {slot.output_id for slot in inline}
        uploaded: list[tuple[int, str, str | None]] = []
        for position, slot in enumerate(slots):
            if slot.output_id not in sent:
                uploaded.append((position, slot.output_id, slot.sha256))
                continue
            self.repo.add(
                TaskOutput(
                    task_id=task.id,
                    attempt=attempt,
                    position=position,
                    output_id=slot.output_id,
                    file_name=slot.file_name,
                    content_type=slot.content_type,
                    file_size=slot.file_size,
                    object_key=slot.object_key,
                    sha256=slot.sha256,
                    output_status="final",
                    created_at=now,
                    expires_at=task.outputs_expire_at,
                )
            )
        await self.repo.finalise_outputs(task.id, attempt, uploaded, task.outputs_expire_at)
        return task

    async def fail(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        code: str,
        message: str,
        now: datetime,
    ) -> Task:
        task = await self.fenced(agent, task_id, attempt)
        if task.cancel_requested_at is not None:
            lifecycle.cancel(self.uow, task, now)
        else:
            lifecycle.fail(
                self.uow,
                task,
                now,
                code or "task_failed",
                message or "The task failed on its agent.",
            )
        return task

    async def cancelled(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        now: datetime,
        *,
        by_runtime: bool = False,
        message: str = "",
    ) -> None:
        """The agent confirms it stopped: ``cancelled`` if one was asked for, or if its runtime
        stopped the task on its own (interrupted in ComfyUI's UI; ``message`` says so), else
        back to the queue, exactly as a hand-back."""
        if not by_runtime:
            await self.release(agent, task_id, attempt, now)
            return
        task = await self.fenced(agent, task_id, attempt)
        if task.cancel_requested_at is None and message:
            task.task_error = message[:4000]
        lifecycle.cancel(self.uow, task, now)

    async def release(self, agent: AgentRef, task_id: str, attempt: int, now: datetime) -> None:
        """The agent hands the task back (shutting down): back to the queue, no retry used."""
        task = await self.fenced(agent, task_id, attempt)
        if task.cancel_requested_at is not None:
            lifecycle.cancel(self.uow, task, now)
        else:
            lifecycle.move(self.uow, task, TaskStatus.PENDING, now)


def matching(granted: list[Slot], outputs: list[dict[str, Any]]) -> list[Slot] | str:
    """The granted slots for the outputs an agent reports, in its order, each with the sha256
    the agent reports for it (kept when it reports none), or what is wrong."""
    by_id = {o.output_id: o for o in granted}
    rows = []
    for spec in outputs:
        row = by_id.get(spec["output_id"])
        if row is None:
            return f"output {spec['output_id']!r} was never granted an upload URL"
        if row.file_size != spec["file_size"]:
            return f"output {spec['output_id']!r} size differs from its upload URL"
        reported = spec.get("sha256")
        if reported and row.sha256 and reported != row.sha256:
            return f"output {spec['output_id']!r} sha256 differs from its bytes"
        rows.append(replace(row, sha256=reported) if reported else row)
    return rows
