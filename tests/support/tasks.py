"""Finishing tasks without an agent, through the service layer's own agent-facing path
(``TaskExecution``), for integration tests of results, cancel and retention."""

from __future__ import annotations

from runyard.models import Task
from runyard.tasks import lifecycle
from runyard.tasks.execution import AgentRef, TaskExecution
from tests.support.app import Harness


async def assign(h: Harness, task_id: str, agent_id: str = "test-agent") -> AgentRef:
    async with h.app.state.db.session() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        task.attempt += 1
        task.agent_id = agent_id
        lifecycle.move(session, task, "queued", h.clock.now())
        await session.commit()
        return AgentRef(task.team_id, agent_id)


async def start(h: Harness, task_id: str) -> AgentRef:
    ref = await assign(h, task_id)
    async with h.app.state.db.session() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        await TaskExecution(session, h.settings).ack(ref, task_id, task.attempt, h.clock.now())
        await session.commit()
    return ref


async def complete(h: Harness, task_id: str, outputs: dict[str, bytes]) -> None:
    ref = await start(h, task_id)
    async with h.app.state.db.session() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        attempt = task.attempt
        rows = []
        for output_id, data in outputs.items():
            rows.append(
                await TaskExecution(session, h.settings).grant_output(
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
        await session.commit()
    for row, data in zip(rows, outputs.values(), strict=True):
        signed = h.app.state.storage.presign_put(row.object_key, len(data), expires_in=60)
        r = await h.client.put(signed.url, content=data, headers=signed.headers)
        assert r.status_code == 200, r.text
    async with h.app.state.db.session() as session:
        await TaskExecution(session, h.settings).complete(
            ref, task_id, attempt, list(outputs), h.clock.now()
        )
        await session.commit()
