"""The webhook outbox looks a team's webhooks up once per unit of work: a reaper pass (or any
unit) that ends many of the team's tasks writes one delivery row per task and webhook, after a
single query of the webhooks."""

from __future__ import annotations

from sqlalchemy import select

from runyard.models import Task, Webhook, WebhookDelivery
from runyard.tasks import lifecycle
from tests.support.statements import counting_reads
from tests.unit.scheduler.conftest import World


async def test_one_lookup_per_unit_however_many_tasks_end(world: World) -> None:
    workflow_id = await world.workflow()
    task_ids = [await world.task(workflow_id) for _ in range(3)]
    async with world.db.unit() as uow:
        for events in (["task.failed"], ["task.completed"]):
            uow.session.add(
                Webhook(
                    team_id=world.team_id,
                    webhook_url="https://example.com/hook",
                    webhook_events=events,
                    webhook_secret="whsec_x",
                )
            )
    with counting_reads(world.db.engine, "webhooks") as reads:
        async with world.db.unit() as uow:
            for task_id in task_ids:
                task = await uow.session.get(Task, task_id)
                assert task is not None
                lifecycle.fail(uow, task, world.clock.now(), "task_failed", "gone")
    assert reads.count == 1
    async with world.db.session() as session:
        rows = list(await session.scalars(select(WebhookDelivery)))
    # only the webhook subscribed to task.failed gets them, one row per task
    assert sorted(r.task_id for r in rows) == sorted(task_ids)
    assert {r.event_type for r in rows} == {"task.failed"}
    assert len({r.webhook_id for r in rows}) == 1


async def test_the_next_unit_looks_again(world: World) -> None:
    """A webhook added after one unit is seen by the next (nothing is kept across units)."""
    workflow_id = await world.workflow()
    first, second = await world.task(workflow_id), await world.task(workflow_id)
    async with world.db.unit() as uow:
        task = await uow.session.get(Task, first)
        assert task is not None
        lifecycle.fail(uow, task, world.clock.now(), "task_failed", "gone")
    async with world.db.unit() as uow:
        uow.session.add(
            Webhook(
                team_id=world.team_id,
                webhook_url="https://example.com/hook",
                webhook_events=["task.failed"],
                webhook_secret="whsec_x",
            )
        )
    async with world.db.unit() as uow:
        task = await uow.session.get(Task, second)
        assert task is not None
        lifecycle.fail(uow, task, world.clock.now(), "task_failed", "gone")
    async with world.db.session() as session:
        rows = list(await session.scalars(select(WebhookDelivery)))
    assert [r.task_id for r in rows] == [second]
