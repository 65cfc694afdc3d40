"""The page loop of a dispatcher pass, shared by the general pass (an ORM unit of work) and the
direct one (PostgreSQL's driver, ``direct.py``).

A team's schedulable tasks wait in queues, one per ``requirement_key`` (tool type and required
labels). A pass claims only from the queues some free agent can serve, a page from each in rank
order (priority with aging, then age: ``runyard.states.rank_at``), offers the merged page to the
agents able to take each task, and goes on page after page while slots remain and the tasks seen
cannot use them, up to ``batch`` tasks. So tasks that no connected agent can take (a label
nobody has, a ComfyUI graph while the GPU box is off) never hide the ones an agent can: they are
not even read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from runyard.gateway.registry import Connection
from runyard.models import Task, WorkflowVersion
from runyard.states import parse_requirement_key
from runyard_protocol import TaskAssign

After = tuple[datetime, str] | None  # (rank_at, id) of the last task of the previous page
Keys = Callable[[], Awaitable[list[str]]]
Claim = Callable[[str, int, After], Awaitable[list[Task]]]
Version = Callable[[Task], Awaitable[WorkflowVersion | None]]
Pick = Callable[[Task, WorkflowVersion | None, list[Connection], dict[int, int]], Connection | None]
Assign = Callable[[Task, WorkflowVersion | None, Connection], Awaitable[TaskAssign | None]]
Assigned = tuple[Connection, TaskAssign, Task]


def serves(conn: Connection, key: str) -> bool:
    """Whether ``conn`` could take tasks of the queue ``key`` (its labels and runtime; the
    finer checks, ComfyUI's node classes and models, are ``pick``'s)."""
    tool, labels = parse_requirement_key(key)
    return labels <= conn.labels and tool in conn.runtimes


async def assign_team(
    agents: list[Connection],
    free: dict[int, int],
    *,
    keys: Keys,
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
    assigned: list[Assigned] = []
    left: list[str] = []
    if not agents:
        return assigned, left
    cursors: dict[str, After] = {k: None for k in await keys() if any(serves(c, k) for c in agents)}
    seen = 0
    while cursors and seen < batch:
        open_slots = sum(max(0, free[id(c)]) for c in agents)
        if open_slots == 0:
            break
        page = min(batch, max(page_min, 2 * open_slots))
        claimed: list[Task] = []
        for key in list(cursors):
            if not any(free[id(c)] > 0 and serves(c, key) for c in agents):
                del cursors[key]
                continue
            rows = await claim(key, page, cursors[key])
            claimed += rows
            if len(rows) < page:
                del cursors[key]  # the queue has no more for now
            else:
                cursors[key] = (rows[-1].rank_at, rows[-1].id)
        claimed.sort(key=lambda t: (t.rank_at, t.id))
        seen += len(claimed)
        taken: set[str] = set()
        for task in claimed:
            if not any(free[id(c)] > 0 for c in agents):
                break
            task_version = await version(task)
            conn = pick(task, task_version, agents, free)
            if conn is None:
                continue
            taken.add(task.id)
            frame = await assign(task, task_version, conn)
            if frame is not None:
                free[id(conn)] -= 1
                assigned.append((conn, frame, task))
        left += [t.id for t in claimed if t.id not in taken]
    return assigned, left
