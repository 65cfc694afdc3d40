"""`runyard teams …`/`runyard account …` and the SDK's `client.teams`/`client.account`, against
the real app in-process (session tokens: these endpoints refuse keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard_client import Client, PermissionDeniedError
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


def run(
    cli: typer.Typer, live: Live, *args: str, token: str | None = None, input: str = ""
) -> object:
    extra = ["--server", BASE, "--api-key", token or live.team.session_token]
    return CliRunner().invoke(cli, [*args, *extra], obj={"transport": live.transport}, input=input)


def test_invite_accept_and_manage_from_the_cli(cli: typer.Typer, live: Live) -> None:
    team = live.team.id
    r = run(cli, live, "teams", "invite", "carol@example.com", "--role", "viewer", "--team", team)
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    link = r.output.strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert link.startswith("http://testserver/#/accept?token=iv-")
    r = run(cli, live, "teams", "invitations", "--team", team, "--json")
    [pending] = json.loads(r.output)["items"]  # type: ignore[attr-defined]
    assert pending["email_address"] == "carol@example.com" and pending["role"] == "viewer"
    dup = run(cli, live, "teams", "invite", "carol@example.com", "--team", team)
    assert dup.exit_code == 1 and "invitation_exists" in dup.output  # type: ignore[attr-defined]

    r = CliRunner().invoke(
        cli,
        ["teams", "accept", link, "--new-account", "--name", "Carol", "--server", BASE],
        obj={"transport": live.transport},
        input="carol-password\ncarol-password\n",
    )
    assert r.exit_code == 0 and "as viewer" in r.output, r.output
    r = run(cli, live, "teams", "members", "--team", team, "--json")
    roles = {m["email_address"]: m["role"] for m in json.loads(r.output)["items"]}  # type: ignore[attr-defined]
    assert roles == {"alice@example.com": "owner", "carol@example.com": "viewer"}
    carol = next(m["user_id"] for m in json.loads(r.output)["items"] if m["role"] == "viewer")  # type: ignore[attr-defined]

    assert run(cli, live, "teams", "set-role", carol, "admin", "--team", team).exit_code == 0  # type: ignore[attr-defined]
    assert run(cli, live, "teams", "rename", "Alpha 2", "--team", team).exit_code == 0  # type: ignore[attr-defined]
    r = run(cli, live, "teams", "list", "--json")
    assert json.loads(r.output)[0]["display_name"] == "Alpha 2"  # type: ignore[attr-defined]
    assert run(cli, live, "teams", "remove", carol, "--team", team).exit_code == 0  # type: ignore[attr-defined]
    leave = run(cli, live, "teams", "leave", "--team", team)
    assert leave.exit_code == 1 and "owner_cannot_leave" in leave.output  # type: ignore[attr-defined]
    assert run(cli, live, "account", "name", "Alice A").exit_code == 0  # type: ignore[attr-defined]
    # keys are refused: these endpoints take session tokens
    keyed = run(cli, live, "teams", "members", "--team", team, token=live.team.p.device_key)
    assert keyed.exit_code == 3  # type: ignore[attr-defined]
    wrong = run(cli, live, "teams", "delete", "--team", team, "--confirm", "nope")
    assert wrong.exit_code == 1 and "team_name_mismatch" in wrong.output  # type: ignore[attr-defined]
    gone = run(cli, live, "teams", "delete", "--team", team, input="Alpha 2\n")
    assert gone.exit_code == 0, gone.output  # type: ignore[attr-defined]


def test_the_sdk_covers_teams_and_the_account(live: Live) -> None:
    owner = Client(BASE, live.team.session_token, transport=live.transport, use_profile=False)
    team = live.team.id
    created = owner.teams.invite(team, "dan@example.com", "member")
    assert [i.id for i in owner.teams.invitations(team).items] == [created.id]
    anonymous = Client(BASE, None, transport=live.transport, use_profile=False)
    joined = anonymous.teams.accept_invitation(created.accept_url, password="dan-password-1")
    assert joined.team_id == team and joined.role == "member"
    dan = Client(BASE, joined.access_token, transport=live.transport, use_profile=False)
    dan.account.update("Dan")
    assert dan.auth.me().display_name == "Dan"
    with pytest.raises(PermissionDeniedError):
        dan.teams.invite(team, "eve@example.com")
    dan_id = dan.auth.me().id
    owner.teams.transfer_ownership(team, dan_id)
    roles = {m.email_address: m.role for m in owner.teams.members(team).items}
    assert roles == {"alice@example.com": "admin", "dan@example.com": "owner"}
    owner.teams.leave(team)
    dan.account.change_password("dan-password-1", "dan-password-2")
    second = dan.teams.create("Dan's")
    dan.teams.update(second.id, "Dan's team")
    dan.teams.delete(second.id, "Dan's team")
    assert [t.id for t in dan.auth.me().teams] == [team]
