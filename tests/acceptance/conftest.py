"""End-to-end legs with real processes: ``runyard serve`` and ``runyard agent`` processes over
(SQLite + the embedded store) and (PostgreSQL + the S3 test server). Timers are shrunk by
settings so failure paths run in seconds. The database is truncated between tests."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from runyard.bootstrap import Provisioned, provision
from runyard.db.engine import Database
from runyard.settings import DatabaseSettings, Settings
from runyard_protocol import TaskAck
from tests.support.databases import (
    create_pg_database,
    drop_pg_database,
    pg_url,
    sqlite_copy,
    truncate_pg,
)
from tests.support.fake_agent import FakeAgent
from tests.support.processes import Proc, python_cmd, wait_http
from tests.support.s3 import free_port, reset_s3, start_s3_server, stop_s3_server

SECRET = "e2e-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
BUCKET = "runyard-e2e"
FAST_TIMERS = {
    "RUNYARD_SCHEDULER_HEARTBEAT_INTERVAL": "0.5",
    "RUNYARD_SCHEDULER_HEARTBEAT_MISSES": "3",
    "RUNYARD_SCHEDULER_ACK_TIMEOUT": "3",
    "RUNYARD_SCHEDULER_CANCEL_GRACE": "3",
    "RUNYARD_SCHEDULER_REAP_INTERVAL": "0.2",
    "RUNYARD_SCHEDULER_POLL_INTERVAL": "0.5",
    "RUNYARD_SCHEDULER_RESTART_GRACE": "3",
    "RUNYARD_SCHEDULER_SHUTDOWN_GRACE": "3",
    "RUNYARD_AUTH_KEY_RECHECK_INTERVAL": "1",
    "RUNYARD_EVENTS_KEEPALIVE": "1",
    "RUNYARD_EVENTS_PROGRESS_INTERVAL": "0.05",
}


@pytest.fixture(scope="session")
def e2e_s3() -> Iterator[str]:
    endpoint, pid = start_s3_server()
    yield endpoint
    stop_s3_server(pid)


@pytest.fixture(scope="session")
def e2e_pg_name() -> Iterator[str]:
    name = f"runyard_e2e_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    create_pg_database(name)
    yield name
    drop_pg_database(name)


@dataclass
class Stack:
    leg: str
    url: str
    env: dict[str, str]
    team: Provisioned
    logs: Path
    server: Proc | None = None
    procs: list[Proc] = field(default_factory=list)
    other_team: Provisioned | None = None

    @property
    def base(self) -> str:
        return self.url + "/api/v1/r"

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.team.integration_key}"}

    def session_headers(self) -> dict[str, str]:
        """A session token of the team's owner (admin endpoints, workflow imports)."""
        r = httpx.post(
            f"{self.url}/api/v1/auth/login",
            json={
                "email_address": self.team.email_address,
                "user_password": self.team.user_password,
            },
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def start_server(self, **extra_env: str) -> Proc:
        port = int(self.url.rsplit(":", 1)[1])
        self.server = Proc(
            f"server-{len(self.procs)}",
            python_cmd("-m", "runyard", "serve", "--port", str(port)),
            {**self.env, **extra_env},
            self.logs,
        )
        wait_http(self.url + "/healthz", proc=self.server)
        return self.server

    def start_agent(
        self,
        agent_id: str,
        *,
        labels: str = "cpu",
        capacity: int = 1,
        key: str | None = None,
        extra: list[str] | None = None,
    ) -> Proc:
        env = dict(self.env, RUNYARD_URL=self.url, RUNYARD_AGENT_KEY=key or self.team.agent_key)
        work = self.logs / f"work-{agent_id}"
        work.mkdir(exist_ok=True)
        proc = Proc(
            f"agent-{agent_id}-{len(self.procs)}",
            python_cmd(
                "-m",
                "runyard_agent",
                "--agent-id",
                agent_id,
                "--labels",
                labels,
                "--capacity",
                str(capacity),
                "--work-dir",
                str(work),
                *(extra or []),
            ),
            env,
            self.logs,
        )
        self.procs.append(proc)
        return proc

    def agents(self, key: str | None = None) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.base}/agents", headers=self.headers(key), timeout=10)
        r.raise_for_status()
        return list(r.json()["agent_list"])

    def wait_agent(
        self, agent_id: str, status: str = "idle", timeout: float = 20, key: str | None = None
    ) -> None:
        from tests.support.processes import wait_until

        wait_until(
            lambda: any(
                a["agent_id"] == agent_id and a["agent_status"] == status for a in self.agents(key)
            ),
            timeout,
        )

    def task(self, task_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/tasks/{task_id}", headers=self.headers(), timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def wait_task(
        self,
        task_id: str,
        statuses: tuple[str, ...] = ("completed", "failed", "cancelled"),
        timeout: float = 30,
    ) -> dict[str, Any]:
        from tests.support.processes import wait_until

        return wait_until(
            lambda: (t := self.task(task_id))["task_status"] in statuses and t, timeout
        )  # type: ignore[return-value]

    def upload(self, data: bytes, name: str = "photo.png", content_type: str = "image/png") -> str:
        p = httpx.post(
            f"{self.base}/files/presign",
            headers=self.headers(),
            json={"file_name": name, "file_size": len(data), "content_type": content_type},
            timeout=10,
        )
        p.raise_for_status()
        body = p.json()
        r = httpx.put(body["upload_url"], content=data, headers=body["upload_headers"], timeout=30)
        assert r.status_code == 200, r.text
        return str(body["file_key"])

    def run(self, slug: str, parameters: dict[str, Any], **kw: Any) -> str:
        r = httpx.post(
            f"{self.base}/workflows/slug/{slug}/run",
            headers=self.headers(),
            json={"parameters": parameters},
            timeout=10,
            **kw,
        )
        assert r.status_code == 202, r.text
        return str(r.json()["task_id"])


async def acked_sleep(stack: Stack, agent: FakeAgent) -> str:
    """Run the built-in ``sleep`` (0 s), expect ``agent`` to be assigned it, and acknowledge it
    as a protocol-following agent would: the task id."""
    task_id = await asyncio.to_thread(stack.run, "sleep", {"seconds": 0})
    assign = await agent.expect("task.assign", timeout=20)
    assert assign["task_id"] == task_id
    await agent.send(TaskAck(task_id=task_id, attempt=1))
    return task_id


def _provision(db_url: str, settings: Settings) -> tuple[Provisioned, Provisioned]:
    async def go() -> tuple[Provisioned, Provisioned]:
        db = Database(DatabaseSettings(url=db_url))
        try:
            a = await provision(db, settings, email="e2e@example.com", password="e2e-password-1")
            b = await provision(
                db,
                settings,
                email="other@example.com",
                password="e2e-password-2",
                team_name="Other",
            )
            await _import_test_workflows(db, a.team_id)
            await _import_test_workflows(db, b.team_id)
            return a, b
        finally:
            await db.dispose()

    return asyncio.run(go())


async def _import_test_workflows(db: Database, team_id: str) -> None:
    from runyard.clock import SystemClock
    from runyard.workflows.schemas import WorkflowDefinition
    from runyard.workflows.service import WorkflowService

    async with db.session() as session:
        service = WorkflowService(session, SystemClock())
        for slug, labels, timeout, retries in (
            ("sleep", ["cpu"], 600, 2),
            ("sleep-gpu", ["gpu"], 600, 2),
            ("sleep-short", ["cpu"], 2, 0),
            ("sleep-once", ["cpu"], 600, 0),
        ):
            await service.import_definition(
                team_id,
                WorkflowDefinition.model_validate(
                    {
                        "workflow_slug": slug,
                        "tool_type": "python",
                        "required_labels": labels,
                        "task_timeout": timeout,
                        "max_retries": retries,
                        "workflow_json": {"entrypoint": "runyard_agent.builtins.sleep:run"},
                        "parameters": [
                            {"key": "seconds", "type": "number", "default": 1, "min": 0, "max": 600}
                        ],
                    }
                ),
            )
        await session.commit()


@pytest.fixture(params=["e2e-sqlite-local", "e2e-postgres-s3"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    leg = request.param
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(
        FAST_TIMERS,
        RUNYARD_SECRET_KEY=SECRET,
        RUNYARD_PUBLIC_URL=url,
        RUNYARD_DATA_DIR=str(tmp_path / "data"),
        RUNYARD_LOG_LEVEL="INFO",
    )
    if leg == "e2e-sqlite-local":
        template = request.getfixturevalue("_sqlite_template")
        db_url = sqlite_copy(template, tmp_path / "e2e.db")
        env["RUNYARD_STORAGE"] = "local"
    else:
        name = request.getfixturevalue("e2e_pg_name")
        asyncio.run(truncate_pg(name))
        db_url = pg_url(name)
        endpoint = request.getfixturevalue("e2e_s3")
        reset_s3(endpoint)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        ).create_bucket(Bucket=BUCKET)
        env.update(
            RUNYARD_STORAGE="s3",
            RUNYARD_S3_ENDPOINT=endpoint,
            RUNYARD_S3_BUCKET=BUCKET,
            RUNYARD_S3_ACCESS_KEY_ID="test",
            RUNYARD_S3_SECRET_ACCESS_KEY="test",
            RUNYARD_S3_REGION="us-east-1",
        )
    env["RUNYARD_DB_URL"] = db_url
    settings = Settings(environment="test", secret_key=SECRET, public_url=url)
    team, other = _provision(db_url, settings)
    logs = tmp_path / "logs"
    logs.mkdir()
    s = Stack(leg=leg, url=url, env=env, team=team, logs=logs, other_team=other)
    s.start_server()
    yield s
    failed = getattr(request.node, "rep_call", None)
    for proc in [*s.procs, s.server]:
        if proc is not None:
            proc.stop()
    if failed is not None and failed.failed:
        for proc in [s.server, *s.procs]:
            if proc is not None:
                print(f"----- {proc.name} log (tail) -----\n{proc.log()[-4000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A real `runyard dev` process (server, SQLite, embedded store, local agent)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    proc = Proc(
        "runyard-dev",
        python_cmd(
            "-m", "runyard", "dev", "--data-dir", str(tmp_path / "data"), "--port", str(port)
        ),
        env,
        tmp_path,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        creds = json.loads((tmp_path / "data" / "credentials.json").read_text())
        yield creds, tmp_path
    finally:
        code = proc.stop()
        assert code in (0, -15), proc.log()[-3000:]
