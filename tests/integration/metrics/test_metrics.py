"""``/metrics`` against a real ``runyard serve`` process (SQLite, embedded store) with a real
``runyard agent``: the names are there, a submitted task moves the counters and histograms, and
the route refuses a scrape without the token (401) or answers 404 when no token is set."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runyard.app import create_app
from runyard.bootstrap import Provisioned, provision
from runyard.clock import SystemClock
from runyard.db.engine import Database
from runyard.settings import DatabaseSettings, Settings
from runyard.workflows.schemas import WorkflowDefinition
from runyard.workflows.service import WorkflowService
from tests.support.databases import sqlite_copy
from tests.support.processes import Proc, python_cmd, wait_http, wait_until
from tests.support.s3 import free_port

pytestmark = pytest.mark.e2e

SECRET = "metrics-test-secret-0123456789-abcdefghijklmnop"
TOKEN = "scrape-token-0123456789"
SLEEP = {
    "workflow_slug": "sleep",
    "tool_type": "python",
    "required_labels": ["cpu"],
    "workflow_json": {"entrypoint": "runyard_agent.builtins.sleep:run"},
    "parameters": [{"key": "seconds", "type": "number", "default": 0, "min": 0, "max": 5}],
}


@dataclass
class Server:
    url: str
    team: Provisioned

    def scrape(self, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}/metrics", headers=headers, timeout=10)

    def sample(self, name: str, labels: str = "") -> float:
        text = self.scrape().text
        match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
        return float(match.group(1)) if match else 0.0


def _provision(db_url: str) -> Provisioned:
    async def go() -> Provisioned:
        db = Database(DatabaseSettings(url=db_url))
        try:
            team = await provision(db, Settings(environment="test", secret_key=SECRET))
            async with db.session() as session:
                await WorkflowService(session, SystemClock()).import_definition(
                    team.team_id, WorkflowDefinition.model_validate(SLEEP)
                )
                await session.commit()
            return team
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture
def server(_sqlite_template: Path, tmp_path: Path) -> Iterator[Server]:
    db_url = sqlite_copy(_sqlite_template, tmp_path / "metrics.db")
    team = _provision(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(
        RUNYARD_DB_URL=db_url,
        RUNYARD_SECRET_KEY=SECRET,
        RUNYARD_PUBLIC_URL=url,
        RUNYARD_DATA_DIR=str(tmp_path / "data"),
        RUNYARD_METRICS_TOKEN=TOKEN,
    )
    serve = Proc("serve", python_cmd("-m", "runyard", "serve", "--port", str(port)), env, tmp_path)
    agent_env = dict(env, RUNYARD_URL=url, RUNYARD_AGENT_KEY=team.agent_key)
    agent = Proc(
        "agent",
        python_cmd("-m", "runyard_agent", "--agent-id", "m1", "--capacity", "2"),
        agent_env,
        tmp_path,
    )
    try:
        wait_http(url + "/healthz", proc=serve)
        yield Server(url, team)
    finally:
        agent.stop()
        serve.stop()


def test_scrape_names_and_a_task_moves_the_counters(server: Server) -> None:
    wait_until(lambda: server.sample("runyard_agents_connected") == 1, 30)
    first = server.scrape()
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    for name in (
        "runyard_tasks",
        "runyard_queue_oldest_wait_seconds",
        "runyard_agents_connected",
        "runyard_agent_slots_free",
        "runyard_event_stream_clients",
        "runyard_task_submit_to_assign_seconds",
        "runyard_task_assign_to_start_seconds",
        "runyard_presigns_total",
        "runyard_uploads_total",
        "runyard_http_request_duration_seconds",
    ):
        assert f"# TYPE {name} " in first.text, name
    assert server.sample("runyard_agent_slots_free") == 2
    assigned = server.sample("runyard_task_submit_to_assign_seconds_count")
    started = server.sample("runyard_task_assign_to_start_seconds_count")

    auth = {"Authorization": f"Bearer {server.team.integration_key}"}
    presign = httpx.post(
        f"{server.url}/api/v1/r/files/presign",
        headers=auth,
        json={"file_name": "a.bin", "file_size": 3, "content_type": "application/octet-stream"},
        timeout=10,
    ).json()
    put = httpx.put(presign["upload_url"], content=b"abc", headers=presign["upload_headers"])
    assert put.status_code == 200
    r = httpx.post(
        f"{server.url}/api/v1/r/workflows/slug/sleep/run",
        headers=auth,
        json={"parameters": {"seconds": 0}},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    wait_until(
        lambda: (
            httpx.get(f"{server.url}/api/v1/r/tasks/{task_id}", headers=auth).json()["task_status"]
            == "completed"
        ),
        30,
    )

    assert server.sample("runyard_tasks", '{state="completed"}') == 1
    assert server.sample("runyard_tasks", '{state="pending"}') == 0
    assert server.sample("runyard_task_submit_to_assign_seconds_count") == assigned + 1
    assert server.sample("runyard_task_assign_to_start_seconds_count") == started + 1
    assert server.sample("runyard_presigns_total", '{result="ok"}') == 1
    # The client's input, and the agent's output (sleep writes one small file).
    assert server.sample("runyard_uploads_total", '{result="ok"}') == 2
    text = server.scrape().text
    # Labelled by the route template, never by a task id.
    assert 'route="/api/v1/r/workflows/slug/{workflow_slug}/run"' in text
    assert task_id not in text


def test_scrape_without_the_token_is_refused(server: Server) -> None:
    assert server.scrape(token=None).status_code == 401
    wrong = server.scrape(token="not-the-token")
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "invalid_token"
    assert server.scrape(token=server.team.integration_key).status_code == 401


async def test_metrics_is_404_while_no_token_is_set(tmp_path: Path) -> None:
    settings = Settings(environment="test", secret_key=SECRET, data_dir=tmp_path)
    app = create_app(settings, background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 404
    assert r.json()["error_code"] == "not_found"
