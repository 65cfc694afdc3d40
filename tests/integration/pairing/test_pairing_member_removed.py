"""A member removed from a team loses the keys they created for themselves there (issue 32,
item 4): the device key they paired and its companion agent key are revoked, and stay revoked
if they are added again; team keys and their keys of other teams are untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runyard.settings import PairingSettings
from tests.support.app import Harness, Team, make_settings, running_app


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    pairing = PairingSettings(interval=2, expires_in=60)
    async with running_app(make_settings(db_url, tmp_path / "data", pairing=pairing)) as h:
        yield h


async def pair(h: Harness, member: Team, team_id: str) -> tuple[str, str]:
    """``member`` pairs a device with a companion agent key in ``team_id``: (dk-, ak-)."""
    started = await h.client.post(
        "/api/v1/desktop/pair/start", json={"device_name": "laptop", "with_agent_key": True}
    )
    confirmed = await h.client.post(
        "/api/v1/desktop/pair/confirm",
        headers={**member.auth("session"), "X-Team-ID": team_id},
        json={"user_code": started.json()["user_code"]},
    )
    assert confirmed.status_code == 200, confirmed.text
    h.clock.advance(seconds=2)
    polled = await h.client.post(
        "/api/v1/desktop/pair/poll", json={"device_code": started.json()["device_code"]}
    )
    body = polled.json()
    assert body["status"] == "approved", body
    return body["device_key"], body["agent_key"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def invite_and_join(h: Harness, team: Team, member: Team, role: str) -> str:
    """``member``'s user joins ``team`` with ``role`` by accepting an invitation (issue 30:
    nobody is added without consent); their user id."""
    invited = await h.client.post(
        f"/api/v1/teams/{team.id}/invitations",
        headers=team.auth(),
        json={"email_address": member.p.email_address, "role": role},
    )
    assert invited.status_code == 201, invited.text
    token = invited.json()["accept_url"].split("#/accept?token=")[1]
    accepted = await h.client.post(
        "/api/v1/invitations/accept", headers=member.auth("session"), json={"token": token}
    )
    assert accepted.status_code in (200, 201), accepted.text
    listed = await h.client.get(f"/api/v1/teams/{team.id}/members", headers=team.auth())
    [user_id] = [
        m["user_id"]
        for m in listed.json()["members"]
        if m["email_address"] == member.p.email_address
    ]
    return str(user_id)


async def test_removing_a_member_revokes_their_device_and_companion_keys(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    h, members = harness, f"/api/v1/teams/{team_a.id}/members"
    bob_id = await invite_and_join(h, team_a, team_b, "admin")
    device_key, agent_key = await pair(h, team_b, team_a.id)
    own_device, _ = await pair(h, team_b, team_b.id)  # bob's keys in his own team
    assert (
        await h.client.get("/api/v1/r/workflows", headers=bearer(device_key))
    ).status_code == 200

    removed = await h.client.delete(f"{members}/{bob_id}", headers=team_a.auth())
    assert removed.status_code == 204

    keys = await h.client.get("/api/v1/credentials", headers=team_a.auth())
    listed = keys.json()["credentials"]
    mine = {k["kind"]: k for k in listed if (device_key + agent_key).count(k["key_prefix"])}
    assert mine["device"]["revoked_at"] is not None
    assert mine["agent"]["revoked_at"] is not None
    assert mine["agent"]["companion_of"] == mine["device"]["id"]
    others = [k for k in listed if k["id"] not in {m["id"] for m in mine.values()}]
    assert others and all(k["revoked_at"] is None for k in others)  # the team's own keys
    refused = await h.client.get("/api/v1/r/workflows", headers=bearer(device_key))
    assert refused.status_code == 401 and refused.json()["error_code"] == "credential_revoked"
    # The team's own integration key and bob's keys in his own team still work.
    assert (
        await h.client.get("/api/v1/r/workflows", headers=team_a.auth("integration"))
    ).status_code == 200
    assert (
        await h.client.get("/api/v1/r/workflows", headers=bearer(own_device))
    ).status_code == 200

    assert await invite_and_join(h, team_a, team_b, "admin") == bob_id
    still = await h.client.get("/api/v1/r/workflows", headers=bearer(device_key))
    assert still.status_code == 401, still.text  # re-adding does not revive it
    assert agent_key.startswith("ak-")
