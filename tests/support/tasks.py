"""Finishing tasks without an agent, through the service layer's own agent-facing path
(``TaskExecution``), for integration tests of results, cancel and retention."""

from __future__ import annotations

from typing import Any

from runyard.models import Task
from runyard.states import TaskStatus
from runyard.tasks import lifecycle
from runyard.tasks.execution import AgentRef, TaskExecution
from tests.support.app import Harness


async def assign(h: Harness, task_id: str, agent_id: str = "test-agent") -> AgentRef:
    async with h.app.state.services.db.unit() as uow:
        session = uow.session
        task = await session.get(Task, task_id)
        assert task is not None
        task.attempt += 1
        task.agent_id = agent_id
        lifecycle.move(uow, task, TaskStatus.QUEUED, h.clock.now())
        return AgentRef(task.team_id, agent_id)


async def start(h: Harness, task_id: str) -> AgentRef:
    ref = await assign(h, task_id)
    async with h.app.state.services.db.unit() as uow:
        session = uow.session
        task = await session.get(Task, task_id)
        assert task is not None
        await TaskExecution(uow, h.settings).ack(ref, task_id, task.attempt, h.clock.now())
    return ref


async def complete(
    h: Harness, task_id: str, outputs: dict[str, bytes], values: dict[str, Any] | None = None
) -> None:
    ref = await start(h, task_id)
    async with h.app.state.services.db.unit() as uow:
        session = uow.session
        task = await session.get(Task, task_id)
        assert task is not None
        attempt = task.attempt
        rows = []
        for output_id, data in outputs.items():
            rows.append(
                await TaskExecution(uow, h.settings).grant_output(
                    ref,
                    task_id,
                    attempt,
                    output_id,
                    f"{output_id}.bin",
                    "application/octet-stream",
                    len(data),
                    h.clock.now(),
                )
            )
    for row, data in zip(rows, outputs.values(), strict=True):
        signed = h.app.state.services.storage.presign_put(row.object_key, len(data), expires_in=60)
        r = await h.client.put(signed.url, content=data, headers=signed.headers)
        assert r.status_code == 200, r.text
    async with h.app.state.services.db.unit() as uow:
        session = uow.session
        done = await TaskExecution(uow, h.settings).complete(
            ref,
            task_id,
            attempt,
            [{"output_id": i, "file_size": len(data)} for i, data in outputs.items()],
            h.clock.now(),
            values=values,
        )
        assert not isinstance(done, str), done
