"""`runyard webhooks …` after one `runyard login`: add, list, test (a real receiver on
127.0.0.1), a task's delivery in the log, redeliver, disable/enable, rm; a session token given
with --api-key is used as it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from runyard.settings import WebhookSettings
from runyard_client.cli import register
from tests.integration.client.conftest import BASE, Live
from tests.support import tasks as drive
from tests.support.receiver import receiver


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {"webhook": WebhookSettings(allow_http=True, allow_private=True, poll_interval=30.0)}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RUNYARD_URL", raising=False)
    monkeypatch.delenv("RUNYARD_API_KEY", raising=False)
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    return app


def call(cli: typer.Typer, live: Live, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), obj={"transport": live.transport})


def test_manage_and_test_a_webhook_from_the_cli(cli: typer.Typer, live: Live) -> None:
    email = live.team.p.email_address
    r = call(cli, live, "login", "--server", BASE, "--email", email, "--password", "password-alpha")
    assert r.exit_code == 0, r.output
    with receiver() as rx:
        r = call(cli, live, "webhooks", "add", rx.url, "-e", "task.completed", "--json")
        assert r.exit_code == 0, r.output
        created = json.loads(r.stdout)
        assert created["webhook_secret"].startswith("whsec_")
        hook_id = created["id"]
        r = call(cli, live, "webhooks", "list")
        assert r.exit_code == 0 and hook_id in r.stdout

        r = call(cli, live, "webhooks", "test", hook_id)
        assert r.exit_code == 0, r.output
        assert "delivered: HTTP 200" in r.stdout
        assert json.loads(rx.received[0].body)["event_type"] == "webhook.test"

        task_id = live.run(_completed_task(live))
        worker = live.harness.app.state.services.webhooks
        assert live.run(worker.deliver_due()) == 1
        r = call(cli, live, "webhooks", "deliveries", hook_id, "--json")
        (delivery,) = json.loads(r.stdout)["items"]
        assert delivery["task_id"] == task_id and delivery["delivery_status"] == "succeeded"
        r = call(cli, live, "webhooks", "redeliver", delivery["id"])
        assert r.exit_code == 0 and "queued delivery" in r.stdout

        r = call(cli, live, "webhooks", "disable", hook_id)
        assert r.exit_code == 0 and "disabled" in r.stdout
        r = call(cli, live, "webhooks", "enable", hook_id)
        assert r.exit_code == 0 and "enabled" in r.stdout
        r = call(cli, live, "webhooks", "rm", hook_id)
        assert r.exit_code == 0
        r = call(cli, live, "webhooks", "test", hook_id)
        assert r.exit_code == 4 and "No such webhook" in r.stderr


def test_a_failed_test_delivery_exits_non_zero(cli: typer.Typer, live: Live) -> None:
    session = live.team.auth()["Authorization"][7:]
    with receiver(statuses=[500]) as rx:
        r = call(
            cli, live, "webhooks", "add", rx.url, "--json", "--server", BASE, "--api-key", session
        )
        hook_id = json.loads(r.stdout)["id"]
        r = call(cli, live, "webhooks", "test", hook_id, "--server", BASE, "--api-key", session)
    assert r.exit_code == 1 and "not delivered" in r.stdout and "HTTP 500" in r.stdout


async def _completed_task(live: Live) -> str:
    h = live.harness
    key = await h.upload(live.team, b"\x89PNG" + b"1" * 32)
    r = await h.client.post(
        "/api/v1/r/workflows/slug/img2img/run",
        headers=live.team.auth("integration"),
        json={"parameters": {"input_image": key}},
    )
    task_id = str(r.json()["task_id"])
    await drive.complete(h, task_id, {"image": b"out"})
    return task_id
