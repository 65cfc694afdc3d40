"""Login, refresh rotation and reuse detection, logout, X-Team-ID rules, login rate limit."""

from __future__ import annotations

from tests.support.app import Harness, Team


async def login(h: Harness, email: str, password: str) -> dict[str, object]:
    r = await h.client.post(
        "/api/v1/auth/login", json={"email_address": email, "user_password": password}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_login_refresh_rotation_and_reuse_revokes_the_family(
    harness: Harness, team_a: Team
) -> None:
    tokens = await login(harness, "alice@example.com", "password-alpha")
    assert set(tokens) >= {"access_token", "refresh_token", "expires_in"}
    r1 = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r1.status_code == 200
    rotated = r1.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    me = await harness.client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["email_address"] == "alice@example.com"
    reuse = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reuse.status_code == 401 and reuse.json()["error_code"] == "refresh_token_reused"
    # the whole family is gone: the rotated refresh token and its access token too
    again = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert again.status_code == 401
    gone = await harness.client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert gone.status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(
    harness: Harness, team_a: Team
) -> None:
    for email, password in (("alice@example.com", "nope-nope"), ("ghost@example.com", "x")):
        r = await harness.client.post(
            "/api/v1/auth/login", json={"email_address": email, "user_password": password}
        )
        assert r.status_code == 401 and r.json()["error_code"] == "invalid_credentials"


async def test_logout_ends_the_session(harness: Harness, team_a: Team) -> None:
    tokens = await login(harness, "alice@example.com", "password-alpha")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await harness.client.post("/api/v1/auth/logout", headers=headers)).status_code == 200
    assert (await harness.client.get("/api/v1/r/tasks", headers=headers)).status_code == 401
    r = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 401


async def test_team_header_rules(harness: Harness, team_a: Team, team_b: Team) -> None:
    second = await harness.client.post(
        "/api/v1/teams", headers=team_a.auth(), json={"display_name": "second"}
    )
    assert second.status_code == 201
    missing = await harness.client.get("/api/v1/r/tasks", headers=team_a.auth())
    assert missing.status_code == 400 and missing.json()["error_code"] == "team_required"
    foreign = await harness.client.get(
        "/api/v1/r/tasks", headers={**team_a.auth(), "X-Team-ID": team_b.id}
    )
    assert foreign.status_code == 403 and foreign.json()["error_code"] == "not_a_member"
    ok = await harness.client.get(
        "/api/v1/r/tasks", headers={**team_a.auth(), "X-Team-ID": second.json()["id"]}
    )
    assert ok.status_code == 200
    # keys ignore X-Team-ID: their team is fixed
    sk = await harness.client.get(
        "/api/v1/r/workflows", headers={**team_a.auth("integration"), "X-Team-ID": team_b.id}
    )
    assert sk.status_code == 200
    assert {w["workflow_slug"] for w in sk.json()["workflow_list"]} == {"img2img", "echo"}


async def test_login_is_rate_limited(harness: Harness, team_a: Team) -> None:
    statuses = []
    for _ in range(12):
        r = await harness.client.post(
            "/api/v1/auth/login",
            json={"email_address": "alice@example.com", "user_password": "wrong-password"},
        )
        statuses.append(r.status_code)
    assert statuses[:9] == [401] * 9 and statuses[-1] == 429


async def test_members_add_change_remove(harness: Harness, team_a: Team, team_b: Team) -> None:
    base = f"/api/v1/teams/{team_a.id}/members"
    added = await harness.client.post(
        base, headers=team_a.auth(), json={"email_address": "bob@example.com", "role": "viewer"}
    )
    # POST …/members invites: nobody joins without accepting
    assert added.status_code == 201 and added.json()["role"] == "viewer"
    token = added.json()["accept_url"].split("token=")[1]
    joined = await harness.client.post(
        "/api/v1/invitations/accept",
        json={"token": token, "password": "password-beta"},  # bob owns team B
    )
    assert joined.status_code == 200, joined.text
    listed = await harness.client.get(base, headers=team_a.auth())
    bob = next(
        m["user_id"] for m in listed.json()["members"] if m["email_address"] == "bob@example.com"
    )
    changed = await harness.client.put(
        f"{base}/{bob}", headers=team_a.auth(), json={"role": "admin"}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "admin"
    owner = team_a.p.user_id
    assert (
        await harness.client.delete(f"{base}/{owner}", headers=team_a.auth())
    ).status_code == 409
    listed = await harness.client.get(base, headers=team_a.auth())
    assert listed.json()["page_meta"]["total_count"] == 2
    assert (await harness.client.delete(f"{base}/{bob}", headers=team_a.auth())).status_code == 204
    # team B's admin cannot see team A's members
    foreign = await harness.client.get(base, headers=team_b.auth())
    assert foreign.status_code == 403
