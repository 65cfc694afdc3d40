"""RUNYARD_AUTH_REGISTRATION: invite_only (default), open (POST /auth/signup) or closed."""

from __future__ import annotations

from pathlib import Path

from runyard.settings import AuthSettings
from tests.support.app import Harness, Team, make_settings, running_app

SIGNUP = "/api/v1/auth/signup"
NEW = {"email_address": "new@example.com", "password": "new-password", "display_name": "New"}


async def test_signup_is_refused_unless_open(harness: Harness) -> None:
    assert harness.settings.auth.registration == "invite_only"
    r = await harness.client.post(SIGNUP, json=NEW)
    assert r.status_code == 403 and r.json()["error_code"] == "registration_closed"
    assert "invitation" in r.json()["error_message"]


async def test_open_registration_signs_up_into_no_team(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "data", auth=AuthSettings(registration="open"))
    async with running_app(settings) as h:
        r = await h.client.post(SIGNUP, json=NEW)
        assert r.status_code == 201, r.text
        session = {"Authorization": f"Bearer {r.json()['access_token']}"}
        me = (await h.client.get("/api/v1/users/me", headers=session)).json()
        assert me["email_address"] == "new@example.com" and me["teams"] == []
        team = await h.client.post("/api/v1/teams", headers=session, json={"display_name": "n"})
        assert team.status_code == 201
        weak = await h.client.post(
            SIGNUP, json={**NEW, "email_address": "w@example.com", "password": "short"}
        )
        assert weak.status_code == 422 and weak.json()["error_code"] == "weak_password"


async def test_closed_registration_refuses_accounts_from_invitations(
    db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(db_url, tmp_path / "data", auth=AuthSettings(registration="closed"))
    async with running_app(settings) as h:
        owner: Team = await h.team("alpha", "alice@example.com")
        assert (await h.client.post(SIGNUP, json=NEW)).status_code == 403
        created = await h.client.post(
            f"/api/v1/teams/{owner.id}/invitations",
            headers=owner.auth(),
            json={"email_address": "new@example.com"},
        )
        token = created.json()["accept_url"].split("token=")[1]
        r = await h.client.post(
            "/api/v1/invitations/accept", json={"token": token, "password": "new-password"}
        )
        assert r.status_code == 403 and r.json()["error_code"] == "registration_closed"
