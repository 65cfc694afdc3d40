"""Heartbeats in memory (issue 34): a heartbeat that changes nothing costs the server no
transaction; the agent's last heartbeat reaches the database in batched writes; a change of
health is written at once; a report naming a task the connection does not know is answered
from the database at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from runyard.app import create_app
from runyard.db.engine import Database
from runyard.models import Agent
from runyard.settings import SchedulerSettings
from runyard_protocol import Heartbeat, RunningTask
from tests.support.app import make_settings
from tests.support.fake_agent import FakeAgent
from tests.support.live import live_server, live_settings, provision_team


class Writes:
    """Statements that write the agents table, and commits, sent by the server."""

    def __init__(self) -> None:
        self.agent_updates = 0

    def __call__(self, _c: object, _cur: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE AGENTS"):
            self.agent_updates += 1


async def agent_row(db: Database, agent_id: str) -> Agent:
    async with db.session() as session:
        row = await session.scalar(select(Agent).where(Agent.agent_id == agent_id))
        assert row is not None
        return row


async def until(check: Any, limit: float = 20) -> None:
    for _ in range(int(limit / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def test_heartbeats_are_kept_in_memory_and_written_in_batches(
    db_url: str, tmp_path: Path
) -> None:
    settings, port = live_settings(
        make_settings,
        db_url,
        tmp_path / "data",
        scheduler=SchedulerSettings(
            heartbeat_interval=0.05, heartbeat_misses=100, liveness_interval=0.5
        ),
    )
    team = await asyncio.to_thread(provision_team, settings)
    app = create_app(settings, background=True)
    writes = Writes()
    event.listen(app.state.services.db.engine.sync_engine, "before_cursor_execute", writes)
    reader = Database(settings.db)
    try:
        with live_server(app, port, settings) as url:
            agent = FakeAgent(url, team.agent_key, "steady")
            await agent.connect()
            first = (await agent_row(reader, "steady")).last_heartbeat
            assert first is not None
            start_beats, start_writes = agent.heartbeats_sent, writes.agent_updates
            await until(lambda: _true(agent.heartbeats_sent - start_beats >= 60))
            beats = agent.heartbeats_sent - start_beats
            # One batched write per liveness interval, not one per heartbeat.
            assert writes.agent_updates - start_writes < beats / 3

            async def advanced() -> bool:
                seen = (await agent_row(reader, "steady")).last_heartbeat
                return seen is not None and seen > first

            await until(advanced)  # the batched write keeps the database's view moving

            # A change of health is written at once (the writer only writes the time).
            agent.stop_heartbeats()
            await agent.send(Heartbeat(healthy=False))

            async def unhealthy() -> bool:
                return not (await agent_row(reader, "steady")).healthy

            await until(unhealthy)

            # A report naming a task this connection was never assigned: dropped at once.
            stranger = RunningTask(task_id="not-a-task-of-yours", attempt=1)
            await agent.send(Heartbeat(running_tasks=[stranger]))
            while True:
                ack = await agent.expect("server.heartbeat", timeout=15)
                if ack["drop_tasks"]:
                    break
            assert ack["drop_tasks"] == [{"task_id": stranger.task_id, "attempt": 1}]
            await agent.close()
    finally:
        await reader.dispose()


async def _true(value: bool) -> bool:
    return value
