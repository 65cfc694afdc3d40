"""The outbox: a task's terminal transition records one delivery row per enabled webhook of
its team subscribed to the event, in the same transaction (``tasks/lifecycle.py`` calls
``record``). A crash after the commit cannot lose the event; a rollback writes neither.

The rows are added by a ``before_commit`` hook of the unit of work (they need a query of the
team's webhooks, made once per unit, and the transitions themselves are synchronous); after the
commit the delivery worker of this process is woken, so the first attempt goes out at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from runyard.clock import iso_z
from runyard.db.base import new_id
from runyard.db.unit import UnitOfWork
from runyard.models import Task, Webhook, WebhookDelivery
from runyard.webhooks.repository import WebhookRepository

EventType = Literal["task.completed", "task.failed", "task.cancelled"]
EVENT_TYPES: tuple[EventType, ...] = ("task.completed", "task.failed", "task.cancelled")


def payload_of(
    event_type: EventType, task: Task, now: datetime, task_output: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "task_id": task.id,
        "task_status": task.task_status.value,
        "workflow_slug": task.workflow_slug,
        "workflow_version": task.workflow_version,
        "task_output": task_output,
        "task_error": task.task_error or "",
        # task_error repeated under the names the API's error bodies use.
        "error_code": task.task_error_code,
        "error_message": task.task_error or "",
        "timestamp": iso_z(now),
    }


async def enabled_webhooks(uow: UnitOfWork, team_id: str) -> list[Webhook]:
    """The team's enabled webhooks, looked up once per unit of work (a reaper pass or a batch
    that ends many of the team's tasks asks once)."""
    key = ("webhooks.enabled", team_id)
    if key not in uow.memo:
        uow.memo[key] = await WebhookRepository(uow.session).enabled(team_id)
    hooks: list[Webhook] = uow.memo[key]
    return hooks


def record(
    uow: UnitOfWork,
    task: Task,
    event_type: EventType,
    now: datetime,
    task_output: dict[str, Any] | None = None,
) -> None:
    """Queue the event for the team's webhooks, in ``uow``'s transaction."""
    payload = payload_of(event_type, task, now, task_output)
    team_id, task_id = task.team_id, task.id

    async def add_rows() -> None:
        hooks = [h for h in await enabled_webhooks(uow, team_id) if event_type in h.webhook_events]
        for hook in hooks:
            uow.session.add(
                WebhookDelivery(
                    id=new_id(),
                    team_id=team_id,
                    webhook_id=hook.id,
                    task_id=task_id,
                    event_type=event_type,
                    event_id="msg_" + new_id().replace("-", ""),
                    payload=payload,
                    delivery_status="pending",
                    attempt_count=0,
                    # The worker adds the schedule's first delay to the event time.
                    next_attempt_at=now,
                    last_error="",
                    created_at=now,
                )
            )
        if hooks:
            await uow.session.flush()
            uow.wake_webhooks()

    uow.before_commit(add_rows)
