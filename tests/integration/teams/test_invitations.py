"""Invitations: nobody joins a team without accepting, nothing reveals whether an address has
an account, tokens work once and expire, and every refusal of the issue's list."""

from __future__ import annotations

from runyard.teams.service import TeamService
from tests.support.app import Harness, Team

ACCEPT = "/api/v1/invitations/accept"


def token_of(created: dict[str, object]) -> str:
    return str(created["accept_url"]).split("#/accept?token=")[1]


async def invite(h: Harness, team: Team, email: str, role: str = "member", **kw: str) -> dict:
    r = await h.client.post(
        f"/api/v1/teams/{team.id}/invitations",
        headers=kw.get("headers") or team.auth(),
        json={"email_address": email, "role": role},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def user_in(h: Harness, team: Team, email: str, role: str, password: str) -> dict[str, str]:
    """A session of a user put in the team directly (fixture), with X-Team-ID."""
    async with h.app.state.services.db.unit() as uow:
        service = TeamService(uow.session)
        await service.create_user(email, password)
        await service.add_member(team.id, email, role)
    r = await h.client.post(
        "/api/v1/auth/login", json={"email_address": email, "user_password": password}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}", "X-Team-ID": team.id}


async def members(h: Harness, team: Team) -> dict[str, str]:
    r = await h.client.get(f"/api/v1/teams/{team.id}/members", headers=team.auth())
    return {m["email_address"]: m["role"] for m in r.json()["members"]}


async def test_invitee_creates_the_account_and_lands_in_the_team_with_the_role(
    harness: Harness, team_a: Team
) -> None:
    created = await invite(harness, team_a, "Carol@Example.com", "viewer")
    assert created["email_address"] == "carol@example.com" and created["emailed"] is False
    assert str(created["accept_url"]).startswith("http://testserver/#/accept?token=iv-")
    assert "carol@example.com" not in await members(harness, team_a)  # not before accepting
    r = await harness.client.post(
        ACCEPT,
        json={"token": token_of(created), "password": "carol-password", "display_name": "Carol"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["team_id"] == team_a.id and body["role"] == "viewer"
    session = {"Authorization": f"Bearer {body['access_token']}"}
    me = (await harness.client.get("/api/v1/users/me", headers=session)).json()
    assert me["display_name"] == "Carol"
    assert me["teams"] == [{"id": team_a.id, "display_name": "alpha", "role": "viewer"}]
    assert (await harness.client.get("/api/v1/r/tasks", headers=session)).status_code == 200
    assert (await members(harness, team_a))["carol@example.com"] == "viewer"
    # the token worked once
    again = await harness.client.post(
        ACCEPT, json={"token": token_of(created), "password": "carol-password"}
    )
    assert again.status_code == 404 and again.json()["error_code"] == "invitation_not_found"
    pending = await harness.client.get(
        f"/api/v1/teams/{team_a.id}/invitations", headers=team_a.auth()
    )
    assert pending.json()["invitations"] == []


async def test_members_post_invites_and_answers_alike_for_known_and_unknown_addresses(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    base = f"/api/v1/teams/{team_a.id}/members"
    known = await harness.client.post(
        base, headers=team_a.auth(), json={"email_address": "bob@example.com"}
    )
    unknown = await harness.client.post(
        base, headers=team_a.auth(), json={"email_address": "nobody@example.com"}
    )
    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json())
    assert known.json()["role"] == unknown.json()["role"] == "member"
    assert set(await members(harness, team_a)) == {"alice@example.com"}
    # bob (owner of team B) sees no change until he accepts
    bob_teams = (await harness.client.get("/api/v1/users/me", headers=team_b.auth())).json()
    assert [t["id"] for t in bob_teams["teams"]] == [team_b.id]
    # the token refusals read the same whatever the address
    for created in (known.json(), unknown.json()):
        assert (
            await harness.client.delete(
                f"/api/v1/teams/{team_a.id}/invitations/{created['id']}", headers=team_a.auth()
            )
        ).status_code == 204
    refusals = [
        (await harness.client.post(ACCEPT, json={"token": token_of(c), "password": "x" * 9}))
        for c in (known.json(), unknown.json())
    ]
    assert [r.status_code for r in refusals] == [404, 404]
    assert refusals[0].json()["error_message"] == refusals[1].json()["error_message"]


async def test_signed_in_invitee_accepts_with_the_token_only(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    created = await invite(harness, team_a, "bob@example.com", "admin")
    # another signed-in user (alice) cannot use bob's invitation
    wrong = await harness.client.post(
        ACCEPT, headers=team_a.auth(), json={"token": token_of(created)}
    )
    assert wrong.status_code == 403 and wrong.json()["error_code"] == "invitation_email_mismatch"
    r = await harness.client.post(ACCEPT, headers=team_b.auth(), json={"token": token_of(created)})
    assert r.status_code == 200, r.text
    assert (await members(harness, team_a))["bob@example.com"] == "admin"
    # already a member: a new invitation is refused
    dup = await harness.client.post(
        f"/api/v1/teams/{team_a.id}/invitations",
        headers=team_a.auth(),
        json={"email_address": "bob@example.com"},
    )
    assert dup.status_code == 409 and dup.json()["error_code"] == "already_member"
    # an existing account accepting without a session must give its own password
    other = await invite(harness, team_b, "alice@example.com")
    bad = await harness.client.post(
        ACCEPT, json={"token": token_of(other), "password": "not-alices-password"}
    )
    assert bad.status_code == 401
    good = await harness.client.post(
        ACCEPT, json={"token": token_of(other), "password": "password-alpha"}
    )
    assert good.status_code == 200 and good.json()["team_id"] == team_b.id


async def test_invitation_refusals(harness: Harness, team_a: Team) -> None:
    base = f"/api/v1/teams/{team_a.id}/invitations"
    member = await user_in(harness, team_a, "m@example.com", "member", "password-m")
    admin = await user_in(harness, team_a, "a@example.com", "admin", "password-a")
    by_member = await harness.client.post(
        base, headers=member, json={"email_address": "x@example.com"}
    )
    assert by_member.status_code == 403 and by_member.json()["error_code"] == "role_insufficient"
    above = await harness.client.post(
        base, headers=admin, json={"email_address": "x@example.com", "role": "owner"}
    )
    assert above.status_code == 403 and above.json()["error_code"] == "role_insufficient"
    as_owner = await harness.client.post(
        base, headers=team_a.auth(), json={"email_address": "x@example.com", "role": "owner"}
    )
    assert as_owner.status_code == 422 and "transfer-ownership" in as_owner.json()["error_message"]
    await invite(harness, team_a, "x@example.com", "admin", headers=admin)  # equal role: fine
    dup = await harness.client.post(base, headers=admin, json={"email_address": "X@example.com"})
    assert dup.status_code == 409 and dup.json()["error_code"] == "invitation_exists"
    bad_email = await harness.client.post(
        base, headers=admin, json={"email_address": "not-an-email"}
    )
    assert bad_email.status_code == 422 and bad_email.json()["error_code"] == "invalid_email"
    unknown = await harness.client.post(ACCEPT, json={"token": "iv-nope", "password": "x" * 9})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "invitation_not_found"
    no_password = await harness.client.post(ACCEPT, json={"token": "iv-nope"})
    assert no_password.status_code == 404  # the token is judged first
    listed = await harness.client.get(base, headers=admin)
    assert [i["email_address"] for i in listed.json()["invitations"]] == ["x@example.com"]
    assert (await harness.client.get(base, headers=member)).status_code == 403


async def test_expired_and_revoked_tokens(harness: Harness, team_a: Team, team_b: Team) -> None:
    expiring = await invite(harness, team_a, "late@example.com")
    revoked = await invite(harness, team_a, "gone@example.com")
    foreign = await harness.client.delete(
        f"/api/v1/teams/{team_b.id}/invitations/{revoked['id']}", headers=team_b.auth()
    )
    assert foreign.status_code == 404  # another team's invitation looks unknown
    assert (
        await harness.client.delete(
            f"/api/v1/teams/{team_a.id}/invitations/{revoked['id']}", headers=team_a.auth()
        )
    ).status_code == 204
    r = await harness.client.post(ACCEPT, json={"token": token_of(revoked), "password": "p" * 9})
    assert r.status_code == 404
    harness.clock.advance(days=7, seconds=1)
    r = await harness.client.post(ACCEPT, json={"token": token_of(expiring), "password": "p" * 9})
    assert r.status_code == 410 and r.json()["error_code"] == "invitation_expired"
    # an expired invitation is no longer pending: the address can be invited again
    again = await invite(harness, team_a, "late@example.com")
    assert again["id"] != expiring["id"]


async def test_accept_is_rate_limited_per_address(harness: Harness) -> None:
    statuses = [
        (await harness.client.post(ACCEPT, json={"token": f"iv-{i}", "password": "p" * 9}))
        for i in range(21)
    ]
    assert [r.status_code for r in statuses[:20]] == [404] * 20
    assert statuses[20].status_code == 429 and "Retry-After" in statuses[20].headers
