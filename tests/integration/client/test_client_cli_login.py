"""One CLI login: after `runyard login` (email and password) the commands that need a user
session (credentials) work without --api-key; `--api-key` alone keeps the saved server;
`--server` alone picks the profile saved for that server; every refusal says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard_client import AuthenticationError, Profile, load_profile, save_profile
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


def call(cli: typer.Typer, live: Live, *args: str) -> object:
    return CliRunner().invoke(cli, list(args), obj={"transport": live.transport})


def login(cli: typer.Typer, live: Live) -> None:
    email = live.team.p.email_address
    r = call(cli, live, "login", "--server", BASE, "--email", email, "--password", "password-alpha")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]


def path_of(tmp_path: Path) -> Path:
    return tmp_path / "config" / "runyard" / "profile.json"


def test_login_then_credentials_list_works(cli: typer.Typer, live: Live, tmp_path: Path) -> None:
    login(cli, live)
    first = load_profile(path_of(tmp_path))
    assert first is not None and first.refresh_token and first.api_key.startswith("dk-")
    r = call(cli, live, "credentials", "list", "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    kinds = {c["kind"] for c in json.loads(r.stdout)["items"]}  # type: ignore[attr-defined]
    assert "device" in kinds
    second = load_profile(path_of(tmp_path))
    assert second is not None and second.refresh_token != first.refresh_token  # rotated, saved
    r = call(cli, live, "credentials", "create", "--name", "ci", "--json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]

    last = load_profile(path_of(tmp_path))
    assert last is not None and last.refresh_token
    r = call(cli, live, "logout")
    assert r.exit_code == 0 and not path_of(tmp_path).exists()  # type: ignore[attr-defined]
    # The login's session ended on the server too: its last refresh token is refused.
    assert live.transport.requests[-1].url.path.endswith("/auth/logout")
    with live.client() as client, pytest.raises(AuthenticationError):
        client.auth.refresh(last.refresh_token)


def test_a_device_only_login_says_how_to_get_a_session(
    cli: typer.Typer, live: Live, tmp_path: Path
) -> None:
    key = live.team.auth("device")["Authorization"][7:]
    save_profile(Profile(BASE, key, live.team.id), path_of(tmp_path))
    r = call(cli, live, "credentials", "list")
    assert r.exit_code == 3  # type: ignore[attr-defined]
    message = r.stderr  # type: ignore[attr-defined]
    assert "runyard login" in message and "email and password" in message
    assert message.count("error:") == 1
    # A device key given explicitly is refused by the server, with the hint.
    r = call(cli, live, "credentials", "list", "--api-key", key)
    assert r.exit_code == 3 and "runyard login" in r.stderr  # type: ignore[attr-defined]


def test_an_api_key_alone_keeps_the_saved_server(
    cli: typer.Typer, live: Live, tmp_path: Path
) -> None:
    login(cli, live)
    sk = live.team.auth("integration")["Authorization"][7:]
    before = len(live.transport.requests)
    r = call(cli, live, "tasks", "list", "--api-key", sk)
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    sent = live.transport.requests[before:]
    assert [str(q.url).startswith(BASE + "/") for q in sent] == [True]
    assert sent[0].headers["Authorization"] == f"Bearer {sk}"


def test_server_alone_picks_that_servers_profile(
    cli: typer.Typer, live: Live, tmp_path: Path
) -> None:
    login(cli, live)
    saved = load_profile(path_of(tmp_path))
    assert saved is not None
    # A later login to another server becomes the default; BASE's is kept beside it.
    save_profile(Profile("http://other.example:9000", "dk-other", "t2"), path_of(tmp_path))
    current = load_profile(path_of(tmp_path))
    assert current is not None and current.server_url == "http://other.example:9000"
    before = len(live.transport.requests)
    r = call(cli, live, "tasks", "list", "--server", BASE + "/")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    (sent,) = live.transport.requests[before:]
    assert sent.headers["Authorization"] == f"Bearer {saved.api_key}"
    r = call(cli, live, "tasks", "list", "--server", "http://nowhere.example:1")
    assert r.exit_code == 3  # type: ignore[attr-defined]
    assert "runyard login --server http://nowhere.example:1" in r.stderr  # type: ignore[attr-defined]
