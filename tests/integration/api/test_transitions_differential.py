"""The two implementations of the transition seam, compared row by row on PostgreSQL.

One script (submit with and without an Idempotency-Key and its replays, claims, acks, progress
reports, completions with uploaded and inline outputs, stale attempts, another agent, a
hand-back and a second attempt, a cancel, a failure, wrong outputs, a team with a webhook, the
ack timeout) runs once through ``TaskTransitions`` (the ORM, with the general dispatcher pass)
and once through ``PostgresTransitions`` (one statement per transition, with the direct pass).
Every answer, every task row, event, output row and result, and every wake-up must be the same,
once ids and times are set aside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from runyard.db.engine import Database
from runyard.files.naming import output_key
from runyard.gateway.registry import Connection, Gateway
from runyard.models import IdempotencyKey, Task, TaskEvent, TaskOutput, Webhook
from runyard.scheduler import Dispatcher, Reaper
from runyard.scheduler.direct import DirectPass
from runyard.tasks.execution import AgentRef, Slot, StaleAttempt, TaskExecution
from runyard.tasks.lifecycle import Report
from runyard.tasks.pg_transitions import PostgresTransitions
from runyard.tasks.transitions import Completion, TaskTransitions
from tests.support.app import Harness, Team
from tests.unit.scheduler.conftest import FakeSocket

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

TIMES = (
    "created_at",
    "assigned_at",
    "started_at",
    "completed_at",
    "outputs_expire_at",
    "rank_at",
    "cancel_requested_at",
)
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 64


class Recorder:
    """The database's wake-ups, recorded (task ids as the script's names) and passed on."""

    def __init__(self, inner: Any, names: dict[str, str]) -> None:
        self.inner, self.names = inner, names
        self.log: list[tuple[tuple[str, ...], bool]] = []

    def tasks_changed(self, task_ids: set[str], wake_dispatcher: bool) -> None:
        self.log.append((tuple(sorted(self.names.get(t, "?") for t in task_ids)), wake_dispatcher))
        self.inner.tasks_changed(task_ids, wake_dispatcher)

    def webhooks_due(self) -> None:
        self.inner.webhooks_due()


@dataclass
class Run:
    h: Harness
    team: Team
    transitions: TaskTransitions
    dispatcher: Dispatcher
    names: dict[str, str] = field(default_factory=dict)  # task id -> name in the script
    answers: list[Any] = field(default_factory=list)
    file_key: str = ""

    @property
    def db(self) -> Database:
        db: Database = self.h.app.state.services.db
        return db

    async def submit(self, name: str, key: str | None = None, *, variant: int = 0) -> int:
        self.file_key = self.file_key or await self.h.upload(self.team, PNG)
        headers = self.team.auth("integration")
        if key:
            headers["Idempotency-Key"] = f"{self.team.id}-{key}"
        r = await self.h.client.post(
            "/api/v1/r/workflows/slug/img2img/run",
            headers=headers,
            json={"parameters": {"input_image": self.file_key, "strength": 0.5 + variant / 10}},
        )
        if r.status_code == 202:
            task_id = r.json()["task_id"]
            self.names.setdefault(task_id, name)
            self.answers.append(
                (name, 202, self.names[task_id], r.headers.get("Idempotent-Replayed"))
            )
        else:
            self.answers.append((name, r.status_code, r.json()["error_code"]))
        return r.status_code

    def id(self, name: str) -> str:
        return next(t for t, n in self.names.items() if n == name)

    async def step(self, label: str, action: Callable[[], Awaitable[object]]) -> None:
        try:
            result = await action()
            self.answers.append((label, "ok", result))
        except StaleAttempt:
            self.answers.append((label, "stale"))
        self.answers.append((label, "rows", await self.rows()))

    async def rows(self) -> list[tuple[object, ...]]:
        """The script's task rows as they stand after a step (what a later step overwrites
        must match too)."""
        async with self.db.session() as s:
            tasks = (await s.scalars(select(Task).where(Task.id.in_(list(self.names))))).all()
        return sorted(
            (
                self.names[t.id],
                t.task_status.value,
                t.progress,
                t.attempt,
                t.agent_id,
                t.event_seq,
                t.retry_count,
                t.task_error_code,
                t.started_at is not None,
            )
            for t in tasks
        )


async def script(run: Run, agent: AgentRef, conn: Connection) -> None:
    t, h = run.transitions, run.h
    now = h.clock.now

    await run.submit("A", "k1")
    await run.submit("A again", "k1")  # the same key and body: the same task
    await run.submit("A other body", "k1", variant=1)  # 409 idempotency_key_reused
    await run.submit("B")
    await run.submit("C", "k2")
    run.answers.append(("claim 1", await run.dispatcher.dispatch_once()))
    a, b, c = run.id("A"), run.id("B"), run.id("C")

    await run.step("stale ack", lambda: t.ack(agent, a, 2, now()))
    other = AgentRef(agent.team_id, "another-agent")
    await run.step("another agent's ack", lambda: t.ack(other, a, 1, now()))
    await run.step("report before the ack", lambda: t.progress(agent, c, 1, now(), Report(0.2)))
    await run.step("ack A", lambda: t.ack(agent, a, 1, now()))
    await run.step("ack A again", lambda: t.ack(agent, a, 1, now()))
    await run.step("ack B", lambda: t.ack(agent, b, 1, now()))
    report = Report(1.5, 3, 4, "KSampler", "sampling")  # 1.5: clamped to 1.0 by both
    await run.step("progress A", lambda: t.progress(agent, a, 1, now(), report))
    await run.step("another agent's progress", lambda: t.progress(other, a, 1, now(), report))

    async with run.db.unit() as uow:
        uploaded = await TaskExecution(uow, h.settings).grant_output(
            agent, a, 1, "uploaded", "up.bin", "application/octet-stream", 4, now()
        )
    small = Slot("small", "small.txt", "text/plain", 3, output_key(agent.team_id, a, 1, 1, "s"))
    specs = [{"output_id": "small", "file_size": 3}, {"output_id": "uploaded", "file_size": 4}]
    done = Completion(specs, {"4.text.0": "a caption"}, [uploaded], [small], sent=1)
    await run.step("complete A", lambda: t.complete(agent, a, 1, now(), done))
    await run.step("complete A again", lambda: t.complete(agent, a, 1, now(), done))
    await run.step("ack A after its end", lambda: t.ack(agent, a, 1, now()))

    cancel = await h.client.post(f"/api/v1/r/tasks/{b}/cancel", headers=run.team.auth())
    run.answers.append(("cancel B", cancel.status_code, cancel.json()))
    await run.step(
        "B stopped", lambda: t.cancelled(agent, b, 1, now(), by_runtime=False, message="")
    )

    # C: the completion implies its ack; its outputs were never granted: output_missing.
    wrong = Completion([{"output_id": "nope", "file_size": 1}], None, [], [])
    await run.step("complete C wrongly", lambda: t.complete(agent, c, 1, now(), wrong))

    # D: handed back on a shutdown, claimed again, failed by its agent.
    await run.submit("D")
    run.answers.append(("claim 2", await run.dispatcher.dispatch_once()))
    d = run.id("D")
    await run.step("release D", lambda: t.release(agent, d, 1, now()))
    run.answers.append(("claim 3", await run.dispatcher.dispatch_once()))
    await run.step("ack D attempt 2", lambda: t.ack(agent, d, 2, now()))
    await run.step("fail D", lambda: t.fail(agent, d, 2, "boom", "it broke", now()))

    # E: a team with an enabled webhook: the outbox rows come with the completion.
    async with run.db.unit() as uow:
        uow.session.add(
            Webhook(
                team_id=agent.team_id,
                webhook_url="https://hooks.example/t",
                webhook_events=["task.completed"],
                webhook_secret="whsec_x",
            )
        )
    await run.submit("E")
    run.answers.append(("claim 4", await run.dispatcher.dispatch_once()))
    e = run.id("E")
    await run.step("ack E", lambda: t.ack(agent, e, 1, now()))
    plain = Completion([], None, [], [])
    await run.step("complete E", lambda: t.complete(agent, e, 1, now(), plain))

    # F: never acknowledged: the reaper's ack timeout puts it back in the queue.
    await run.submit("F")
    run.answers.append(("claim 5", await run.dispatcher.dispatch_once()))
    h.clock.advance(seconds=h.settings.scheduler.ack_timeout + 1)
    reaper = Reaper(run.db, h.settings, h.clock, run.dispatcher.gateway)
    await reaper.run_once()
    h.clock.advance(seconds=-(h.settings.scheduler.ack_timeout + 1))
    conn.websocket.sent.clear()  # type: ignore[attr-defined]


async def snapshot(run: Run) -> dict[str, Any]:
    """Everything written for the script's tasks, by name, without ids and times."""
    rows: dict[str, Any] = {}
    async with run.db.session() as s:
        for task_id, name in sorted(run.names.items(), key=lambda kv: kv[1]):
            task = await s.get(Task, task_id)
            assert task is not None
            events = (
                await s.scalars(
                    select(TaskEvent).where(TaskEvent.task_id == task_id).order_by("seq")
                )
            ).all()
            outputs = (
                await s.scalars(
                    select(TaskOutput).where(TaskOutput.task_id == task_id).order_by("position")
                )
            ).all()
            keys = (
                await s.scalars(select(IdempotencyKey).where(IdempotencyKey.task_id == task_id))
            ).all()
            result = await run.h.client.get(
                f"/api/v1/r/tasks/{task_id}/result", headers=run.team.auth()
            )
            rows[name] = {
                "task": {
                    k: v
                    for k, v in vars(task).items()
                    if not k.startswith("_")
                    and k not in ("id", "team_id", "workflow_id", "parameters", *TIMES)
                },
                "times set": [k for k in TIMES if getattr(task, k) is not None],
                "rank": task.rank_at - task.created_at,
                "expiry": task.outputs_expire_at
                and task.completed_at
                and task.outputs_expire_at - task.completed_at,
                "events": [
                    (
                        e.seq,
                        e.event,
                        {k: v for k, v in e.data.items() if k not in ("task_id", "timestamp")},
                    )
                    for e in events
                ],
                "event times": [e.data["timestamp"].endswith("Z") for e in events],
                "outputs": [
                    (o.position, o.output_id, o.file_name, o.content_type, o.file_size)
                    + (o.output_status, o.expires_at == task.outputs_expire_at)
                    for o in outputs
                ],
                "idempotency": [
                    (k.key.removeprefix(f"{run.team.id}-"), len(k.request_hash)) for k in keys
                ],
                "result": {
                    k: v
                    for k, v in result.json().items()
                    if k
                    not in ("id", "download_url", "download_urls", "expires_at", "completed_at")
                },
            }
    return rows


async def run_script(h: Harness, team: Team, transitions: TaskTransitions, fast: bool) -> Run:
    services = h.app.state.services
    settings = h.settings.model_copy(
        update={"scheduler": h.settings.scheduler.model_copy(update={"poll_interval": 3600})}
    )
    gateway = Gateway()
    sock = FakeSocket()
    conn = Connection(
        websocket=sock,  # type: ignore[arg-type]
        team_id=team.id,
        agent_id="a1",
        key_id="key",
        connection_id="c1",
        labels={"cpu"},
        capacity=3,
    )
    gateway.add(conn)
    dispatcher = Dispatcher(
        services.db,
        settings,
        services.storage,
        h.clock,
        gateway,
        fast_pass=DirectPass if fast else None,
    )
    await dispatcher.dispatch_once()  # the first pass judges (general): nothing to claim yet
    run = Run(h, team, transitions, dispatcher)
    recorder = Recorder(services.db.wakeups, run.names)
    saved, services.transitions = services.transitions, transitions
    services.db.wakeups = recorder
    try:
        await script(run, AgentRef(team.id, "a1"), conn)
    finally:
        services.transitions, services.db.wakeups = saved, recorder.inner
    run.answers.append(("wake-ups", recorder.log))
    return run


async def test_both_implementations_write_the_same(harness: Harness) -> None:
    h = harness
    db = h.app.state.services.db
    general_team = await h.team("general", "general@example.com")
    fast_team = await h.team("fast", "fast@example.com")
    general = await run_script(h, general_team, TaskTransitions(db, h.settings), fast=False)
    fast = await run_script(h, fast_team, PostgresTransitions(db, h.settings), fast=True)

    assert fast.answers == general.answers
    written, expected = await snapshot(fast), await snapshot(general)
    assert written.keys() == expected.keys()
    for name, rows in expected.items():
        for what, value in rows.items():
            assert written[name][what] == value, (name, what)
    # The script did what it says (so the comparison compares something).
    answers = {a[0]: a[1:] for a in general.answers if a[1:2] != ("rows",)}
    assert answers["A again"] == (202, "A", "true")
    assert answers["A other body"] == (409, "idempotency_key_reused")
    assert answers["stale ack"] == ("stale",) and answers["ack A"] == ("ok", None)
    assert answers["complete A"] == ("ok", None)
    assert answers["complete A again"] == ("stale",)
    assert answers["complete C wrongly"][1].startswith("output 'nope' was never granted")
    rows = await snapshot(general)
    assert rows["A"]["task"]["task_status"].value == "completed"
    assert [o[1] for o in rows["A"]["outputs"]] == ["small", "uploaded"]
    assert rows["B"]["task"]["task_status"].value == "cancelled"
    assert rows["C"]["task"]["task_error_code"] == "output_missing"
    assert (rows["D"]["task"]["attempt"], rows["D"]["task"]["task_error_code"]) == (2, "boom")
    assert rows["E"]["task"]["task_status"].value == "completed"
    assert rows["F"]["task"]["task_status"].value == "pending"
    assert rows["A"]["idempotency"] == [("k1", 64)]


async def test_a_lost_connection_under_a_statement_answers_503(
    harness: Harness, team_a: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements sent through the driver bypass SQLAlchemy's error translation: a lost
    connection must still answer 503 ``database_unavailable``, never a 500."""
    import asyncpg

    key = await harness.upload(team_a, PNG)

    async def lost(*_args: object, **_kw: object) -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(asyncpg.Connection, "fetchrow", lost)
    for extra in ({}, {"Idempotency-Key": "lost-1"}):
        r = await harness.client.post(
            "/api/v1/r/workflows/slug/img2img/run",
            headers={**team_a.auth("integration"), **extra},
            json={"parameters": {"input_image": key}},
        )
        assert r.status_code == 503, r.text
        assert r.json()["error_code"] == "database_unavailable"
        assert r.headers["Retry-After"] == "5"
