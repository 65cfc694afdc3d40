"""Task reads, cancel and results. Never commits; a cancel of running work tells its agent
after the commit."""

from __future__ import annotations

from typing import Protocol

from runyard.clock import Clock, iso_z
from runyard.db.unit import UnitOfWork
from runyard.errors import Gone, NotFound
from runyard.models import Task
from runyard.pagination import Page
from runyard.settings import Settings
from runyard.states import TaskStatus
from runyard.storage.base import Storage
from runyard.tasks import lifecycle
from runyard.tasks.listing import Cursor, TaskListing
from runyard.tasks.previews import PreviewStore
from runyard.tasks.repository import TaskFilter, TaskQueue
from runyard.tasks.schemas import TaskList, TaskOutputBody, TaskPageMeta, TaskRead, TaskResult


class CancelSender(Protocol):
    """What a cancel needs of the gateway (which imports ``tasks``, not the reverse)."""

    async def send_cancel(
        self,
        team_id: str,
        agent_id: str,
        task_id: str,
        attempt: int,
        reason: str,
        *,
        once: bool = False,
    ) -> None: ...


class LiveAgents(CancelSender, Protocol):
    """What the task routes need of this process's agent connections: cancels and the live
    previews they sent."""

    previews: PreviewStore


def to_read(task: Task) -> TaskRead:
    return TaskRead.model_validate(task, from_attributes=True)


class TaskService:
    def __init__(self, uow: UnitOfWork, settings: Settings, clock: Clock) -> None:
        self.uow = uow
        self.queue = TaskQueue(uow.session)
        self.settings = settings
        self.clock = clock

    async def page(
        self, team_id: str, wanted: TaskFilter, page: Page, cursor: str | None
    ) -> TaskList:
        after = Cursor.decode(cursor) if cursor else None
        found = await TaskListing(self.uow.session).page(
            team_id, wanted, page.offset, page.per_page, after
        )
        meta = TaskPageMeta(
            **page.meta(found.total).model_dump(),
            total_exact=found.exact,
            next_cursor=found.next_cursor,
        )
        return TaskList(task_list=[to_read(t) for t in found.tasks], page_meta=meta)

    async def get(self, team_id: str, task_id: str) -> Task:
        task = await self.queue.get(team_id, task_id)
        if task is None:
            raise NotFound(f"No task {task_id!r} in this team.", code="task_not_found")
        return task

    async def cancel(self, team_id: str, task_id: str, gateway: CancelSender) -> Task:
        """Unassigned work is cancelled at once; running work is flagged and its agent told
        after the commit; it becomes ``cancelled`` when the agent confirms or after the grace
        period (an agent on another server process hears of it from that process's reaper)."""
        task = await self.get(team_id, task_id)
        now = self.clock.now()
        if task.task_status in (TaskStatus.PENDING, TaskStatus.WAITING, TaskStatus.QUEUED):
            lifecycle.cancel(self.uow, task, now)
        elif task.task_status is TaskStatus.RUNNING and task.cancel_requested_at is None:
            task.cancel_requested_at = now
            agent_id, attempt = task.agent_id, task.attempt
            if agent_id is not None:
                self.uow.after_commit(
                    lambda: gateway.send_cancel(team_id, agent_id, task_id, attempt, "cancelled")
                )
        return task

    async def result(self, team_id: str, task_id: str, storage: Storage) -> TaskResult:
        task = await self.get(team_id, task_id)
        body = TaskResult(
            id=task.id,
            task_status=task.task_status,
            task_output=None,
            download_url=None,
            download_urls=None,
            expires_at=None,
            task_error=task.task_error,
            task_error_code=task.task_error_code,
            completed_at=task.completed_at,
        )
        if task.task_status is not TaskStatus.COMPLETED:
            return body
        if task.outputs_expire_at is not None and task.outputs_expire_at <= self.clock.now():
            raise Gone(
                f"The outputs of task {task.id} expired at "
                f"{iso_z(task.outputs_expire_at)} (kept 7 days); run the task again.",
                code="outputs_expired",
            )
        outputs = await self.queue.outputs(task.id, task.attempt, status="final")
        ttl = self.settings.limits.download_url_ttl
        if task.outputs_expire_at is not None:
            left = int((task.outputs_expire_at - self.clock.now()).total_seconds())
            ttl = max(1, min(ttl, left))
        urls = {
            o.output_id: storage.presign_get(
                o.object_key, expires_in=ttl, file_name=o.file_name, content_type=o.content_type
            )
            for o in outputs
        }
        body.task_output = TaskOutputBody.of(outputs, task.output_values)
        body.download_urls = urls
        body.download_url = urls[outputs[0].output_id] if outputs else None
        body.expires_at = task.outputs_expire_at
        return body
