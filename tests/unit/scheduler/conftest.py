"""The scheduler's rules driven in milliseconds: the real ``TaskQueue`` over SQLite and over
PostgreSQL, a fake clock, and fake WebSockets that record the frames the gateway sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from runyard.db.base import new_id
from runyard.db.engine import Database
from runyard.gateway.registry import Connection, Gateway
from runyard.models import Agent, ApiKey, Task, Team, Workflow, WorkflowVersion
from runyard.scheduler import Dispatcher, Reaper
from runyard.services import fast_pass
from runyard.settings import DatabaseSettings, Settings
from runyard.states import TaskStatus
from runyard.storage.local import LocalStorage
from runyard.workflows.preflight import ComfyUICapabilities

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class FakeSocket:
    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.application_state = WebSocketState.DISCONNECTED

    def frames(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f["type"].startswith(kind)]


@dataclass
class World:
    db: Database
    clock: FakeClock
    settings: Settings
    gateway: Gateway
    dispatcher: Dispatcher
    reaper: Reaper
    team_id: str = "team-1"
    sockets: dict[str, FakeSocket] = field(default_factory=dict)

    async def workflow(
        self,
        *,
        labels: list[str] | None = None,
        retries: int = 1,
        parameters: list[dict[str, Any]] | None = None,
    ) -> str:
        async with self.db.unit() as uow:
            wf = Workflow(
                team_id=self.team_id, workflow_slug=f"wf-{retries}-{labels}-{len(parameters or [])}"
            )
            uow.session.add(wf)
            await uow.session.flush()
            uow.session.add(
                WorkflowVersion(
                    workflow_id=wf.id,
                    version=1,
                    display_name="wf",
                    tool_type="python",
                    workflow_json={},
                    parameters=parameters or [],
                    required_labels=labels or [],
                    task_timeout=60,
                    max_retries=retries,
                )
            )
            return wf.id

    async def task(
        self, workflow_id: str, *, labels: list[str] | None = None, priority: int = 0
    ) -> str:
        async with self.db.unit() as uow:
            wf = await uow.session.get(Workflow, workflow_id)
            version = await uow.session.get(WorkflowVersion, (workflow_id, 1))
            assert wf is not None and version is not None
            task = Task(
                id=new_id(),
                team_id=self.team_id,
                workflow_id=wf.id,
                workflow_slug=wf.workflow_slug,
                workflow_version=1,
                task_status=TaskStatus.PENDING,
                parameters={},
                required_labels=labels or list(version.required_labels),
                task_timeout=version.task_timeout,
                max_retries=version.max_retries,
                created_at=self.clock.now(),
                tool_type=version.tool_type,
                priority=priority,
            )
            uow.session.add(task)
            self.clock.advance(0.001)  # creation order is dispatch order
            return task.id

    async def assigned(self, *, retries: int = 1, agent: str = "a1") -> str:
        """A task of a new workflow, assigned (queued) to a freshly connected agent."""
        task_id = await self.task(await self.workflow(retries=retries))
        await self.connect(agent)
        await self.dispatcher.dispatch_once()
        return task_id

    async def connect(
        self,
        agent_id: str,
        *,
        capacity: int = 1,
        labels: set[str] | None = None,
        system_info: dict[str, Any] | None = None,
    ) -> FakeSocket:
        sock = FakeSocket()
        self.sockets[agent_id] = sock
        async with self.db.unit() as uow:
            uow.session.add(
                Agent(
                    team_id=self.team_id,
                    agent_id=agent_id,
                    api_key_id="key",
                    labels=sorted(labels or set()),
                    capacity=capacity,
                    runtimes=["python", "comfyui"] if system_info else ["python"],
                    system_info=system_info or {},
                    connected=True,
                    healthy=True,
                    connection_id=f"conn-{agent_id}",
                    last_heartbeat=self.clock.now(),
                )
            )
        self.gateway.add(
            Connection(
                websocket=sock,  # type: ignore[arg-type]
                team_id=self.team_id,
                agent_id=agent_id,
                key_id="key",
                connection_id=f"conn-{agent_id}",
                labels=labels or set(),
                capacity=capacity,
                runtimes={"python", "comfyui"} if system_info else {"python"},
                comfyui=ComfyUICapabilities.of(system_info),
            )
        )
        return sock

    async def heartbeat(self, agent_id: str) -> None:
        async with self.db.unit() as uow:
            agent = await uow.session.get(Agent, await self._agent_pk(agent_id))
            assert agent is not None
            agent.last_heartbeat = self.clock.now()

    async def _agent_pk(self, agent_id: str) -> str:
        from sqlalchemy import select

        async with self.db.session() as session:
            pk = await session.scalar(select(Agent.id).where(Agent.agent_id == agent_id))
            assert pk is not None
            return pk

    async def get(self, task_id: str) -> Task:
        async with self.db.session() as session:
            task = await session.get(Task, task_id)
            assert task is not None
            return task


@pytest.fixture
async def world(tmp_path: Path, db_url: str) -> AsyncIterator[World]:
    """On SQLite and on PostgreSQL (``db_url``, migrated and empty): on PostgreSQL, passes that
    only assign go through the driver (``scheduler/direct.py``), judging through the ORM."""
    settings = Settings(environment="test", secret_key="x" * 48, data_dir=tmp_path)
    settings.db = DatabaseSettings(url=db_url)
    clock = FakeClock()
    db = Database(settings.db)
    async with db.unit() as uow:
        uow.session.add(Team(id="team-1", display_name="t"))
        await uow.session.flush()
        uow.session.add(
            ApiKey(
                id="key",
                team_id="team-1",
                kind="agent",
                display_name="agents",
                key_prefix="ak-test",
                key_hash="0" * 64,
            )
        )
    gateway = Gateway()
    storage = LocalStorage(tmp_path / "objects", public_url="http://x", secret_key="s" * 32)
    w = World(
        db=db,
        clock=clock,
        settings=settings,
        gateway=gateway,
        dispatcher=Dispatcher(db, settings, storage, clock, gateway, fast_pass=fast_pass(db)),
        reaper=Reaper(db, settings, clock, gateway),
    )
    try:
        yield w
    finally:
        await db.dispose()
