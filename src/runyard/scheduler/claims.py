"""The page loop of a dispatcher pass, shared by the general pass (an ORM unit of work) and the
direct one (PostgreSQL's driver, ``direct.py``): claim (lock and load) only a few more of a
team's oldest schedulable tasks than there are free slots, offer each to the agents able to
take it, and go on page after page while slots remain and the tasks seen cannot use them, up to
``batch`` tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from runyard.gateway.registry import Connection
from runyard.models import Task, WorkflowVersion
from runyard_protocol import TaskAssign

After = tuple[datetime, str] | None  # (created_at, id) of the last task of the previous page
Claim = Callable[[int, After], Awaitable[list[Task]]]
Version = Callable[[Task], Awaitable[WorkflowVersion | None]]
Pick = Callable[[Task, WorkflowVersion | None, list[Connection], dict[int, int]], Connection | None]
Assign = Callable[[Task, WorkflowVersion | None, Connection], Awaitable[TaskAssign | None]]
Assigned = tuple[Connection, TaskAssign, Task]


async def assign_team(
    agents: list[Connection],
    free: dict[int, int],
    *,
    claim: Claim,
    version: Version,
    pick: Pick,
    assign: Assign,
    batch: int,
    page_min: int,
) -> tuple[list[Assigned], list[str]]:
    """The assignments made for one team's ``agents`` (``free``: their free slots by ``id``,
    counted down) and the ids of the tasks claimed but left. ``assign`` answers None for a task
    it did not assign (it failed it, or leaves it to another pass): its slot stays free."""
    page = min(batch, max(page_min, 2 * sum(free[id(c)] for c in agents)))
    after: After = None
    seen = 0
    assigned: list[Assigned] = []
    left: list[str] = []
    while agents and seen < batch:
        claimed = await claim(page, after)
        seen += len(claimed)
        taken: set[str] = set()
        for task in claimed:
            task_version = await version(task)
            conn = pick(task, task_version, agents, free)
            if conn is None:
                continue
            taken.add(task.id)
            frame = await assign(task, task_version, conn)
            if frame is not None:
                free[id(conn)] -= 1
                assigned.append((conn, frame, task))
            if not any(free[id(c)] > 0 for c in agents):
                break
        left += [t.id for t in claimed if t.id not in taken]
        if len(claimed) < page or not any(free[id(c)] > 0 for c in agents):
            break
        after = (claimed[-1].created_at, claimed[-1].id)
    return assigned, left
