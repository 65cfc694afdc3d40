"""The client commands through ``typer.testing.CliRunner`` against the real app in-process."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard_client import load_profile
from runyard_client.cli import register
from tests.integration.client.conftest import BASE, Live


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RUNYARD_URL", raising=False)
    monkeypatch.delenv("RUNYARD_API_KEY", raising=False)
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    return app


def invoke(
    cli: typer.Typer,
    live: Live,
    *args: str,
    key: str | None = "integration",
) -> object:
    extra = ["--server", BASE, "--api-key", live.team.auth(key)["Authorization"][7:]] if key else []
    return CliRunner().invoke(cli, [*args, *extra], obj={"transport": live.transport})


def test_json_output_parses(cli: typer.Typer, live: Live, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG data")
    r = invoke(
        cli,
        live,
        "run",
        "img2img",
        "-p",
        f"input_image=@{photo}",
        "-p",
        "strength=0.25",
        "-p",
        "prompt=blur",
        "--json",
    )
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    task_id = json.loads(r.stdout)["task_id"]  # type: ignore[attr-defined]
    r = invoke(cli, live, "tasks", "show", task_id, "--json")
    shown = json.loads(r.stdout)  # type: ignore[attr-defined]
    assert shown["parameters"]["strength"] == 0.25 and shown["parameters"]["prompt"] == "blur"
    assert shown["parameters"]["input_image"].endswith("/photo.png")
    for args in (
        ["tasks", "list"],
        ["workflows", "list"],
        ["agents", "list"],
        ["tasks", "result", task_id],
        ["workflows", "show", "echo"],
    ):
        r = invoke(cli, live, *args, "--json")
        assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
        json.loads(r.stdout)  # type: ignore[attr-defined]
    r = invoke(cli, live, "tasks", "cancel", task_id, "--json")
    assert json.loads(r.stdout)["task_status"] == "cancelled"  # type: ignore[attr-defined]


def test_tables_for_lists(cli: typer.Typer, live: Live) -> None:
    r = invoke(cli, live, "workflows", "list")
    assert r.exit_code == 0 and "img2img" in r.stdout and "echo" in r.stdout  # type: ignore[attr-defined]


def test_a_bad_key_exits_non_zero_with_one_line(cli: typer.Typer, live: Live) -> None:
    r = CliRunner().invoke(
        cli,
        ["tasks", "list", "--server", BASE, "--api-key", "sk-wrong"],
        obj={"transport": live.transport},
    )
    assert r.exit_code == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "401" in lines[0]
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)


def test_not_found_and_invalid_parameters_are_one_line(cli: typer.Typer, live: Live) -> None:
    r = invoke(cli, live, "tasks", "show", "00000000-0000-0000-0000-000000000000")
    assert r.exit_code == 4 and "task_not_found" in r.stderr  # type: ignore[attr-defined]
    r = invoke(cli, live, "run", "img2img", "-p", "strength=9")
    assert r.exit_code == 1  # type: ignore[attr-defined]
    line = r.stderr.strip()  # type: ignore[attr-defined]
    assert "\n" not in line and "invalid_parameters" in line and "strength" in line


def test_login_writes_the_profile_and_the_next_command_uses_it(
    cli: typer.Typer,
    live: Live,
    tmp_path: Path,
    photo_bytes: bytes = b"\x89PNG x",
) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "login",
            "--server",
            BASE,
            "--email",
            live.team.p.email_address,
            "--password",
            "password-alpha",
        ],
        obj={"transport": live.transport},
    )
    assert r.exit_code == 0, r.output
    path = tmp_path / "config" / "runyard" / "profile.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    profile = load_profile(path)
    assert profile is not None and profile.api_key.startswith("dk-")
    assert profile.server_url == BASE and profile.team_id == live.team.id

    photo = tmp_path / "p.png"
    photo.write_bytes(photo_bytes)
    r = CliRunner().invoke(cli, ["upload", str(photo)], obj={"transport": live.transport})
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().startswith(f"inputs/{live.team.id}/")
    auth = [
        q.headers.get("Authorization")
        for q in live.transport.requests
        if q.url.path.endswith("/presign")
    ]
    assert auth == [f"Bearer {profile.api_key}"]

    r = CliRunner().invoke(cli, ["logout"], obj={"transport": live.transport})
    assert r.exit_code == 0 and not path.exists()
    r = CliRunner().invoke(cli, ["tasks", "list"], obj={"transport": live.transport})
    assert r.exit_code != 0 and "runyard login" in r.output


def test_login_with_a_wrong_password(cli: typer.Typer, live: Live, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        ["login", "--server", BASE, "--email", "alice@example.com", "--password", "nope"],
        obj={"transport": live.transport},
    )
    assert r.exit_code == 3 and r.stderr.count("\n") == 1
    assert not (tmp_path / "config" / "runyard" / "profile.json").exists()


def test_workflows_import_yaml(cli: typer.Typer, live: Live, tmp_path: Path) -> None:
    spec = tmp_path / "hello.yaml"
    spec.write_text(
        "workflow_slug: hello\ntool_type: python\n"
        "workflow_json: {entrypoint: 'pkg.mod:fn'}\n"
        "parameters:\n  - {key: name, type: string, required: true}\n"
    )
    r = invoke(cli, live, "workflows", "import", str(spec), "--json", key="device")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert json.loads(r.stdout)["workflow_slug"] == "hello"  # type: ignore[attr-defined]
    r = invoke(cli, live, "run", "hello", "-p", "name=world", "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    # `42` parses as JSON, so it is sent as a number, which a string parameter refuses.
    r = invoke(cli, live, "run", "hello", "-p", "name=42")
    assert r.exit_code == 1 and "name" in r.stderr  # type: ignore[attr-defined]
    r = invoke(cli, live, "run", "hello", "-p", 'name="42"', "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]


def test_credentials_need_an_admin_session(cli: typer.Typer, live: Live) -> None:
    r = invoke(cli, live, "credentials", "list", key="device")
    assert r.exit_code == 3  # type: ignore[attr-defined]
    r = invoke(cli, live, "credentials", "create", "--name", "ci", "--json", key="session")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    created = json.loads(r.stdout)  # type: ignore[attr-defined]
    r = invoke(cli, live, "credentials", "revoke", created["id"], key="session")
    assert r.exit_code == 0  # type: ignore[attr-defined]


def test_the_runyard_command_mounts_the_client_commands() -> None:
    from runyard.cli.main import app

    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert {
        "login",
        "logout",
        "upload",
        "run",
        "tasks",
        "workflows",
        "credentials",
        "agents",
    } <= names
