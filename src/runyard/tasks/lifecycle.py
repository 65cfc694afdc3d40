"""Every task transition in one place: it checks the state machine, stamps the time, appends the
event of contract section 5 and records the change in the unit of work (event streams and the
dispatcher hear of it after commit). A terminal transition also writes the webhook outbox rows
in the same transaction (``webhooks.outbox``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runyard.clock import iso_z
from runyard.db.unit import UnitOfWork
from runyard.models import Task, TaskEvent
from runyard.states import TERMINAL, TaskStatus, can_move
from runyard.webhooks import outbox

log = logging.getLogger("runyard.tasks")
S = TaskStatus


def event_payload(task_id: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What every event of the log stores (contract section 5): the one definition, used by
    both implementations of ``tasks.transitions``."""
    return {"task_id": task_id, **data, "timestamp": iso_z(now)}


def status_data(status: TaskStatus) -> dict[str, Any]:
    return {"task_status": status.value}


def append_event(
    uow: UnitOfWork, task: Task, event: str, data: dict[str, Any], now: datetime
) -> None:
    task.event_seq += 1
    payload = event_payload(task.id, data, now)
    uow.session.add(
        TaskEvent(task_id=task.id, seq=task.event_seq, event=event, data=payload, created_at=now)
    )


def _status_event(uow: UnitOfWork, task: Task, now: datetime) -> None:
    append_event(uow, task, "status", status_data(task.task_status), now)


def move(
    uow: UnitOfWork, task: Task, target: TaskStatus, now: datetime, *, wake: bool = False
) -> bool:
    """Move to a non-terminal state; False (and nothing changed) when not allowed."""
    if target in TERMINAL:
        raise ValueError(f"use complete/fail/cancel to end a task, not move(..., {target})")
    if not can_move(task.task_status, target):
        return False
    task.task_status = target
    if target is S.QUEUED:
        task.assigned_at = now
    elif target is S.RUNNING:
        task.started_at = task.started_at or now
    elif target in (S.PENDING, S.WAITING):
        task.agent_id = None
        task.assigned_at = None
        task.progress = 0.0
    if target is S.QUEUED:
        uow.observer.task_queued(task.created_at, now)
    elif target is S.RUNNING:
        uow.observer.task_started(task.assigned_at, now)
    _status_event(uow, task, now)
    uow.task_changed(task.id, wake=wake or target is S.PENDING)
    return True


def created(uow: UnitOfWork, task: Task, now: datetime) -> None:
    _status_event(uow, task, now)
    uow.task_changed(task.id, wake=True)


@dataclass(frozen=True)
class Report:
    """A progress report as an agent sends it; ``event_data`` is what the event stores."""

    value: float
    step_current: int | None = None
    step_total: int | None = None
    current_node: str | None = None
    message: str | None = None

    @property
    def clamped(self) -> float:
        return max(0.0, min(1.0, self.value))

    def event_data(self) -> dict[str, Any]:
        return {
            "progress": self.clamped,
            "step_current": self.step_current,
            "step_total": self.step_total,
            "current_node": self.current_node,
            "message": self.message,
        }


def progress(uow: UnitOfWork, task: Task, now: datetime, report: Report, *, store: bool) -> None:
    task.progress = report.clamped
    if store:
        append_event(uow, task, "progress", report.event_data(), now)
        uow.task_changed(task.id)


def log_lines(uow: UnitOfWork, task: Task, now: datetime, data: dict[str, Any]) -> None:
    """A ``log`` event: console lines of the running attempt (``GET /r/tasks/{id}/logs``)."""
    append_event(uow, task, "log", data, now)
    uow.task_changed(task.id)


def preview(
    uow: UnitOfWork, task: Task, now: datetime, *, content_type: str, node: str | None
) -> None:
    """A ``preview`` event: the latest live image is at ``preview_url`` (while it runs)."""
    append_event(
        uow,
        task,
        "preview",
        {
            "preview_url": f"/api/v1/r/tasks/{task.id}/preview",
            "content_type": content_type,
            "current_node": node,
        },
        now,
    )
    uow.task_changed(task.id)


def complete(
    uow: UnitOfWork,
    task: Task,
    now: datetime,
    task_output: dict[str, Any],
    retention_seconds: int,
) -> bool:
    if not can_move(task.task_status, S.COMPLETED):
        return False
    task.task_status = S.COMPLETED
    task.progress = 1.0
    task.completed_at = now
    task.outputs_expire_at = now + timedelta(seconds=retention_seconds)
    append_event(
        uow, task, "completed", {"task_status": "completed", "task_output": task_output}, now
    )
    outbox.record(uow, task, "task.completed", now, task_output)
    uow.task_changed(task.id, wake=True)
    return True


def fail(uow: UnitOfWork, task: Task, now: datetime, code: str, message: str) -> bool:
    if task.task_status in TERMINAL:
        return False
    task.task_status = S.FAILED
    task.task_error = message
    task.task_error_code = code
    task.completed_at = now
    append_event(
        uow,
        task,
        "failed",
        {"task_status": "failed", "task_error": message, "task_error_code": code},
        now,
    )
    outbox.record(uow, task, "task.failed", now)
    uow.task_changed(task.id, wake=True)
    return True


def cancel(uow: UnitOfWork, task: Task, now: datetime) -> bool:
    if task.task_status in TERMINAL:
        return False
    task.task_status = S.CANCELLED
    task.completed_at = now
    task.cancel_requested_at = task.cancel_requested_at or now
    append_event(uow, task, "cancelled", {"task_status": "cancelled"}, now)
    outbox.record(uow, task, "task.cancelled", now)
    uow.task_changed(task.id, wake=True)
    return True


def retry_or_fail(uow: UnitOfWork, task: Task, now: datetime, why: str) -> None:
    """An attempt was lost (agent lost, restarted, or never acknowledged): another attempt while
    the workflow's retries last, else ``agent_lost`` saying why. A cancel requested meanwhile wins.
    """
    if task.cancel_requested_at is not None:
        cancel(uow, task, now)
    elif task.retry_count < task.max_retries:
        task.retry_count += 1
        log.warning(
            "%s: task=%s attempt=%d retry %d/%d",
            why,
            task.id,
            task.attempt,
            task.retry_count,
            task.max_retries,
        )
        move(uow, task, S.PENDING, now)
    else:
        fail(
            uow, task, now, "agent_lost", f"{why} and the task used all {task.max_retries} retries."
        )
