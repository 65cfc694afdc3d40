"""Team settings (rename, transfer, leave, delete) and the caller's account (name, password)."""

from __future__ import annotations

from sqlalchemy import func, select

from runyard.models import (
    ApiKey,
    Membership,
    ObjectDeletion,
    StoredFile,
    Task,
    TeamInvitation,
    Webhook,
    Workflow,
)
from runyard.teams.service import TeamService
from tests.support.app import Harness, Team

WORKFLOW = {
    "workflow_slug": "doomed",
    "tool_type": "python",
    "workflow_json": {"entrypoint": "m:f"},
}
HOOK = {
    "display_name": "r",
    "webhook_url": "https://93.184.216.34/h",
    "webhook_events": ["task.cancelled"],
}


async def join(h: Harness, team: Team, email: str, role: str) -> tuple[str, dict[str, str]]:
    """A user put in the team directly (fixture): their id and session headers."""
    async with h.app.state.services.db.unit() as uow:
        service = TeamService(uow.session)
        user = await service.create_user(email, "password-" + role)
        await service.add_member(team.id, email, role)
        user_id = user.id
    r = await h.client.post(
        "/api/v1/auth/login", json={"email_address": email, "user_password": "password-" + role}
    )
    return user_id, {"Authorization": f"Bearer {r.json()['access_token']}", "X-Team-ID": team.id}


async def roles(h: Harness, team: Team) -> dict[str, str]:
    r = await h.client.get(f"/api/v1/teams/{team.id}/members", headers=team.auth())
    return {m["email_address"]: m["role"] for m in r.json()["members"]}


async def test_rename_transfer_and_leave(harness: Harness, team_a: Team, team_b: Team) -> None:
    c, url = harness.client, f"/api/v1/teams/{team_a.id}"
    admin_id, admin = await join(harness, team_a, "ad@example.com", "admin")
    member_id, member = await join(harness, team_a, "me@example.com", "member")
    renamed = await c.put(url, headers=admin, json={"display_name": "Alpha Two"})
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Alpha Two"
    assert (await c.put(url, headers=member, json={"display_name": "x"})).status_code == 403
    assert (await c.put(url, headers=admin, json={"display_name": ""})).status_code == 422
    foreign = await c.put(url, headers=team_b.auth(), json={"display_name": "x"})
    assert foreign.status_code == 403 and foreign.json()["error_code"] == "not_a_member"

    transfer = f"{url}/transfer-ownership"
    by_admin = await c.post(transfer, headers=admin, json={"user_id": member_id})
    assert by_admin.status_code == 403 and by_admin.json()["error_code"] == "role_insufficient"
    outsider = await c.post(transfer, headers=team_a.auth(), json={"user_id": team_b.p.user_id})
    assert outsider.status_code == 404 and outsider.json()["error_code"] == "member_not_found"
    owner_leaves = await c.post(f"{url}/leave", headers=team_a.auth())
    assert owner_leaves.status_code == 409
    assert owner_leaves.json()["error_code"] == "owner_cannot_leave"
    done = await c.post(transfer, headers=team_a.auth(), json={"user_id": admin_id})
    assert done.status_code == 200
    assert await roles(harness, team_a) == {
        "alice@example.com": "admin",
        "ad@example.com": "owner",
        "me@example.com": "member",
    }
    # the previous owner, now an admin, may leave; so may a member; then they are out
    assert (await c.post(f"{url}/leave", headers=team_a.auth())).status_code == 200
    assert (await c.post(f"{url}/leave", headers=member)).status_code == 200
    after = await c.get("/api/v1/r/tasks", headers=member)
    assert after.status_code == 403 and after.json()["error_code"] == "not_a_member"
    assert await roles_of(harness, admin, team_a) == {"ad@example.com": "owner"}


async def roles_of(h: Harness, headers: dict[str, str], team: Team) -> dict[str, str]:
    r = await h.client.get(f"/api/v1/teams/{team.id}/members", headers=headers)
    return {m["email_address"]: m["role"] for m in r.json()["members"]}


async def test_removing_a_member_ends_their_access_to_the_team_at_once(
    harness: Harness, team_a: Team
) -> None:
    c = harness.client
    member_id, member = await join(harness, team_a, "me@example.com", "member")
    dk = await c.post("/api/v1/auth/device-keys", headers=member, json={"device_name": "laptop"})
    device = {"Authorization": f"Bearer {dk.json()['raw_key']}"}
    assert (await c.get("/api/v1/r/tasks", headers=device)).status_code == 200
    removed = await c.delete(
        f"/api/v1/teams/{team_a.id}/members/{member_id}", headers=team_a.auth()
    )
    assert removed.status_code == 204
    session = await c.get("/api/v1/r/tasks", headers=member)
    assert session.status_code == 403 and session.json()["error_code"] == "not_a_member"
    # The device key they made in this team is revoked with the membership (issue 32).
    assert (await c.get("/api/v1/r/tasks", headers=device)).status_code == 401


async def test_account_name_and_password(harness: Harness, team_a: Team) -> None:
    c = harness.client
    other = await c.post(
        "/api/v1/auth/login",
        json={"email_address": "alice@example.com", "user_password": "password-alpha"},
    )
    other_session = {"Authorization": f"Bearer {other.json()['access_token']}"}
    named = await c.put("/api/v1/users/me", headers=team_a.auth(), json={"display_name": "Al"})
    assert named.status_code == 200
    me = await c.get("/api/v1/users/me", headers=team_a.auth())
    assert me.json()["display_name"] == "Al"
    url = "/api/v1/users/me/password"
    wrong = await c.post(
        url, headers=team_a.auth(), json={"current_password": "nope", "new_password": "n" * 12}
    )
    assert wrong.status_code == 403 and wrong.json()["error_code"] == "wrong_password"
    weak = await c.post(
        url,
        headers=team_a.auth(),
        json={"current_password": "password-alpha", "new_password": "short"},
    )
    assert weak.status_code == 422 and weak.json()["error_code"] == "weak_password"
    changed = await c.post(
        url,
        headers=team_a.auth(),
        json={"current_password": "password-alpha", "new_password": "a-new-password"},
    )
    assert changed.status_code == 200
    assert (await c.get("/api/v1/users/me", headers=team_a.auth())).status_code == 200
    ended = await c.get("/api/v1/users/me", headers=other_session)
    assert ended.status_code == 401
    refresh = await c.post(
        "/api/v1/auth/refresh", json={"refresh_token": other.json()["refresh_token"]}
    )
    assert refresh.status_code == 401
    old = await c.post(
        "/api/v1/auth/login",
        json={"email_address": "alice@example.com", "user_password": "password-alpha"},
    )
    assert old.status_code == 401
    new = await c.post(
        "/api/v1/auth/login",
        json={"email_address": "alice@example.com", "user_password": "a-new-password"},
    )
    assert new.status_code == 200
    # keys cannot change an account
    for kind in ("integration", "device"):
        r = await c.put("/api/v1/users/me", headers=team_a.auth(kind), json={"display_name": "x"})
        assert r.status_code == 403


async def count(h: Harness, model: type, team_id: str) -> int:
    async with h.app.state.services.db.session() as session:
        n = await session.scalar(
            select(func.count()).select_from(model).where(model.team_id == team_id)  # type: ignore[attr-defined]
        )
        return int(n or 0)


async def test_delete_team_refusals_and_what_goes(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    c, url = harness.client, f"/api/v1/teams/{team_a.id}"
    _, admin = await join(harness, team_a, "ad@example.com", "admin")
    assert (
        await c.post("/api/v1/workflows/import", headers=team_a.auth(), json=WORKFLOW)
    ).is_success
    assert (await c.post("/api/v1/webhooks", headers=team_a.auth(), json=HOOK)).is_success
    await c.post(
        f"{url}/invitations", headers=team_a.auth(), json={"email_address": "x@example.com"}
    )
    await harness.upload(team_a, b"data")
    await harness.upload(team_b, b"keep")
    # a presigned upload still under way when the team goes
    late = await c.post(
        "/api/v1/r/files/presign",
        headers=team_a.auth("integration"),
        json={"file_name": "late.txt", "file_size": 4, "content_type": "text/plain"},
    )
    run = await c.post(
        "/api/v1/r/workflows/slug/doomed/run", headers=team_a.auth(), json={"parameters": {}}
    )
    assert run.status_code == 202

    missing = await c.request("DELETE", url, headers=team_a.auth(), json={})
    assert missing.status_code == 422
    wrong = await c.request("DELETE", url, headers=team_a.auth(), json={"team_name": "ALPHA"})
    assert wrong.status_code == 422 and wrong.json()["error_code"] == "team_name_mismatch"
    by_admin = await c.request("DELETE", url, headers=admin, json={"team_name": "alpha"})
    assert by_admin.status_code == 403 and by_admin.json()["error_code"] == "role_insufficient"
    foreign = await c.request("DELETE", url, headers=team_b.auth(), json={"team_name": "alpha"})
    assert foreign.status_code == 403
    ok = await c.request("DELETE", url, headers=team_a.auth(), json={"team_name": "alpha"})
    assert ok.status_code == 204, ok.text

    for model in (Membership, ApiKey, Task, Workflow, Webhook, StoredFile, TeamInvitation):
        assert await count(harness, model, team_a.id) == 0, model.__name__
    assert await count(harness, StoredFile, team_b.id) == 1
    root = harness.settings.local_store_root
    assert not any((root / "inputs" / team_a.id).rglob("*.*"))
    assert any((root / "inputs" / team_b.id).rglob("*.*"))
    for kind in ("integration", "device", "agent"):
        assert (await c.get("/api/v1/r/tasks", headers=team_a.auth(kind))).status_code == 401
    alone = await c.get("/api/v1/r/tasks", headers=team_a.auth())
    assert alone.status_code == 400 and alone.json()["error_code"] == "team_required"

    # the late upload lands after the deletion: the sweeper removes it, and keeps sweeping the
    # team's prefixes until every upload URL handed out before the deletion has expired
    body = late.json()
    put = await c.put(body["upload_url"], content=b"late", headers=body["upload_headers"])
    assert put.status_code == 200
    assert any((root / "inputs" / team_a.id).rglob("*.*"))
    sweeper = harness.app.state.services.sweeper
    await sweeper.sweep_once()
    assert not any((root / "inputs" / team_a.id).rglob("*.*"))
    async with harness.app.state.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ObjectDeletion)) == 2
    harness.clock.advance(seconds=harness.settings.limits.upload_url_ttl + 1)
    assert (await sweeper.sweep_once())["removed"] == 2
    async with harness.app.state.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ObjectDeletion)) == 0
