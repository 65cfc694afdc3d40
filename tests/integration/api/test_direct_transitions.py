"""The one-statement ack, progress report and completion on PostgreSQL (``tasks/direct.py``)
write exactly what the general path (``TaskExecution`` in a unit of work) writes: the task row,
its events, its output rows and the result users read; and they change nothing, answering
False, whenever the general path must decide (another attempt, agent or team, another state, a
team with webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from runyard.files.naming import output_key
from runyard.models import Task, TaskEvent, TaskOutput, Webhook
from runyard.tasks.direct import DirectTransitions
from runyard.tasks.execution import AgentRef, Slot, TaskExecution, matching
from runyard.tasks.lifecycle import Report
from runyard.tasks.schemas import TaskOutputBody
from tests.integration.api.test_tasks import new_task
from tests.support import tasks as drive
from tests.support.app import Harness, Team

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

TIMES = ("created_at", "assigned_at", "started_at", "completed_at", "outputs_expire_at")


async def snapshot(h: Harness, team: Team, task_id: str) -> dict[str, Any]:
    """Everything the two paths write for a task, without its ids and times."""
    async with h.app.state.services.db.session() as s:
        task = await s.get(Task, task_id)
        assert task is not None
        events = (
            await s.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by("seq"))
        ).all()
        outputs = (
            await s.scalars(
                select(TaskOutput).where(TaskOutput.task_id == task_id).order_by("position")
            )
        ).all()
    result = (await h.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team.auth())).json()
    return {
        "task": {
            k: v
            for k, v in vars(task).items()
            if not k.startswith("_") and k not in ("id", "workflow_id", "parameters", *TIMES)
        },
        "times set": [k for k in TIMES if getattr(task, k) is not None],
        "expiry": task.outputs_expire_at
        and task.completed_at
        and task.outputs_expire_at - task.completed_at,
        "events": [
            (e.seq, e.event, {k: v for k, v in e.data.items() if k not in ("task_id", "timestamp")})
            for e in events
        ],
        "outputs": [
            (o.position, o.output_id, o.file_name, o.content_type, o.file_size, o.output_status)
            for o in outputs
        ],
        "output keys": [o.object_key.replace(task_id, "T") for o in outputs],
        "outputs expire": [o.expires_at == task.outputs_expire_at for o in outputs],
        "result": {
            k: v
            for k, v in result.items()
            if k not in ("id", "download_url", "download_urls", "expires_at", "completed_at")
        },
    }


async def granted(h: Harness, ref: AgentRef, task_id: str, now: datetime) -> Slot:
    async with h.app.state.services.db.unit() as uow:
        return await TaskExecution(uow, h.settings).grant_output(
            ref, task_id, 1, "uploaded", "up.bin", "application/octet-stream", 4, now
        )


def inline_slot(ref: AgentRef, task_id: str) -> Slot:
    return Slot(
        "small", "small.txt", "text/plain", 3, output_key(ref.team_id, task_id, 1, 1, "small.txt")
    )


SPECS = [{"output_id": "small", "file_size": 3}, {"output_id": "uploaded", "file_size": 4}]
VALUES = {"4.text.0": "a caption"}


async def test_a_direct_submit_writes_what_the_general_path_writes(
    harness: Harness, team_a: Team
) -> None:
    """A run with an Idempotency-Key takes the general path (the key's row joins the unit);
    without one, the task and its first event are one statement."""
    h = harness
    key = await h.upload(team_a, b"\x89PNG\r\n\x1a\n" + b"1" * 64)
    ids = []
    for extra in ({"Idempotency-Key": "general-1"}, {}):
        r = await h.client.post(
            "/api/v1/r/workflows/slug/img2img/run",
            headers={**team_a.auth("integration"), **extra},
            json={"parameters": {"input_image": key}},
        )
        assert r.status_code == 202, r.text
        ids.append(r.json()["task_id"])
    general, fast = [await snapshot(h, team_a, task_id) for task_id in ids]
    assert general == fast
    assert fast["events"] == [(1, "status", {"task_status": "pending"})]
    listed = await h.client.get("/api/v1/r/tasks", headers=team_a.auth())
    assert {t["id"] for t in listed.json()["task_list"]} >= set(ids)


async def test_direct_ack_and_completion_write_what_the_general_path_writes(
    harness: Harness, team_a: Team
) -> None:
    h, now = harness, harness.clock.now()
    direct = DirectTransitions(h.app.state.services.db, h.settings.retention.outputs)
    general, fast = await new_task(h, team_a), await new_task(h, team_a)
    ref = await drive.assign(h, general)
    assert await drive.assign(h, fast) == ref

    async with h.app.state.services.db.unit() as uow:
        await TaskExecution(uow, h.settings).ack(ref, general, 1, now)
    assert await direct.ack(ref, fast, 1, now)
    assert await snapshot(h, team_a, general) == await snapshot(h, team_a, fast)

    report = Report(1.5, 3, 4, "KSampler", "sampling")  # 1.5: clamped to 1.0 by both
    async with h.app.state.services.db.unit() as uow:
        await TaskExecution(uow, h.settings).progress(ref, general, 1, now, report, store=True)
    assert await direct.progress(ref, fast, 1, now, report)
    assert await snapshot(h, team_a, general) == await snapshot(h, team_a, fast)

    for task_id in (general, fast):
        uploaded = await granted(h, ref, task_id, now)
        small = inline_slot(ref, task_id)
        if task_id == general:
            async with h.app.state.services.db.unit() as uow:
                done = await TaskExecution(uow, h.settings).complete(
                    ref, task_id, 1, SPECS, now, values=VALUES, known=[uploaded], inline=[small]
                )
                assert not isinstance(done, str), done
        else:
            slots = matching([uploaded, small], SPECS)
            assert not isinstance(slots, str)
            body = TaskOutputBody.of(slots, VALUES).model_dump(exclude_defaults=True)
            assert await direct.complete(
                ref,
                task_id,
                1,
                now,
                body=body,
                values=VALUES,
                positions=list(enumerate(slots)),
                inline=[small],
            )
    a, b = await snapshot(h, team_a, general), await snapshot(h, team_a, fast)
    assert a == b
    assert a["task"]["task_status"].value == "completed" and len(a["events"]) == 5
    assert [o[1] for o in a["outputs"]] == ["small", "uploaded"]

    # Done: neither may apply again (the general path answers the duplicate).
    assert not await direct.ack(ref, fast, 1, now)
    assert not await direct.complete(
        ref, fast, 1, now, body={"outputs": []}, values=None, positions=[], inline=[]
    )
    assert await snapshot(h, team_a, fast) == b


async def test_direct_transitions_leave_every_other_case_to_the_general_path(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    h, now = harness, harness.clock.now()
    db = h.app.state.services.db
    direct = DirectTransitions(db, h.settings.retention.outputs)
    task_id = await new_task(h, team_a)
    ref = await drive.assign(h, task_id)
    before = await snapshot(h, team_a, task_id)
    others = [
        (ref, 2),  # another attempt
        (AgentRef(ref.team_id, "another-agent"), 1),
        (AgentRef(team_b.id, ref.agent_id), 1),
    ]
    report = Report(0.5)
    for who, attempt in others:
        assert not await direct.ack(who, task_id, attempt, now)
    # A report implying the ack (still queued) is the general path's.
    assert not await direct.progress(ref, task_id, 1, now, report)
    # A completion implying its ack (the task is still queued) is the general path's.
    nothing: dict[str, Any] = {
        "body": {"outputs": []},
        "values": None,
        "positions": [],
        "inline": [],
    }
    assert not await direct.complete(ref, task_id, 1, now, **nothing)
    assert await snapshot(h, team_a, task_id) == before

    assert await direct.ack(ref, task_id, 1, now)
    running = await snapshot(h, team_a, task_id)
    for who, attempt in others:
        assert not await direct.progress(who, task_id, attempt, now, report)
        assert not await direct.complete(who, task_id, attempt, now, **nothing)
    # A team with an enabled webhook: the general path writes the outbox rows.
    async with db.unit() as uow:
        uow.session.add(
            Webhook(
                team_id=ref.team_id,
                webhook_url="https://hooks.example/t",
                webhook_events=["task.completed"],
                webhook_secret="whsec_x",
            )
        )
    assert not await direct.complete(ref, task_id, 1, now, **nothing)
    assert await snapshot(h, team_a, task_id) == running


async def test_a_lost_connection_under_a_direct_statement_answers_503(
    harness: Harness, team_a: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements sent through the driver bypass SQLAlchemy's error translation: a lost
    connection must still answer 503 ``database_unavailable``, never a 500."""
    import asyncpg

    key = await harness.upload(team_a, b"\x89PNG\r\n\x1a\n" + b"1" * 64)

    async def lost(*_args: object, **_kw: object) -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(asyncpg.Connection, "fetchrow", lost)
    r = await harness.client.post(
        "/api/v1/r/workflows/slug/img2img/run",
        headers=team_a.auth("integration"),
        json={"parameters": {"input_image": key}},
    )
    assert r.status_code == 503, r.text
    assert r.json()["error_code"] == "database_unavailable"
    assert r.headers["Retry-After"] == "5"
