"""Device pairing through the API: start, poll, confirm with a session, keys delivered once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runyard.settings import PairingSettings, RateLimitSettings
from tests.support.app import Harness, Team, make_settings, running_app

START = "/api/v1/desktop/pair/start"
POLL = "/api/v1/desktop/pair/poll"
CONFIRM = "/api/v1/desktop/pair/confirm"
DENY = "/api/v1/desktop/pair/deny"


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    pairing = PairingSettings(interval=2, expires_in=60)
    async with running_app(make_settings(db_url, tmp_path / "data", pairing=pairing)) as h:
        yield h


async def start(h: Harness, **body: Any) -> dict[str, Any]:
    r = await h.client.post(START, json={"device_name": "laptop", **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def poll(h: Harness, device_code: str) -> Any:
    return await h.client.post(POLL, json={"device_code": device_code})


def session(team: Team, team_id: str | None = None) -> dict[str, str]:
    return {**team.auth("session"), "X-Team-ID": team_id or team.id}


async def test_start_poll_confirm_collects_a_working_device_key_once(
    harness: Harness, team_a: Team
) -> None:
    started = await start(harness)
    assert started["verification_uri"] == "http://testserver/#/pair"
    code = started["user_code"]
    assert started["verification_uri_complete"] == f"http://testserver/#/pair?user_code={code}"
    assert len(code) == 9 and code[4] == "-" and started["interval"] == 2
    assert started["expires_in"] == 60
    first = await poll(harness, started["device_code"])
    assert first.status_code == 200 and first.json() == {"status": "pending"}

    shown = await harness.client.post(
        "/api/v1/desktop/pair/lookup", headers=session(team_a), json={"user_code": code}
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["device_name"] == "laptop" and shown.json()["pairing_status"] == "pending"
    assert shown.json()["with_agent_key"] is False
    confirmed = await harness.client.post(
        CONFIRM, headers=session(team_a), json={"user_code": code.lower().replace("-", " ")}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"status": "approved", "device_name": "laptop"}

    harness.clock.advance(seconds=2)
    approved = await poll(harness, started["device_code"])
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["team_id"] == team_a.id
    assert body["device_key"].startswith("dk-") and body["agent_key"] is None
    device = {"Authorization": f"Bearer {body['device_key']}"}
    me = await harness.client.get("/api/v1/users/me", headers=device)
    assert me.status_code == 200 and me.json()["email_address"] == "alice@example.com"
    workflows = await harness.client.get("/api/v1/r/workflows", headers=device)
    assert workflows.status_code == 200 and workflows.json()["workflow_list"]

    harness.clock.advance(seconds=2)
    again = await poll(harness, started["device_code"])
    assert again.status_code == 400 and again.json()["error_code"] == "expired_token"
    reconfirm = await harness.client.post(
        CONFIRM, headers=session(team_a), json={"user_code": code}
    )
    assert reconfirm.status_code == 409 and reconfirm.json()["error_code"] == "pairing_decided"

    listed = await harness.client.get("/api/v1/credentials", headers=session(team_a))
    names = [(c["kind"], c["display_name"]) for c in listed.json()["credentials"]]
    assert ("device", "laptop") in names


async def test_polling_faster_than_the_interval_answers_slow_down(
    harness: Harness, team_a: Team
) -> None:
    started = await start(harness)
    assert (await poll(harness, started["device_code"])).status_code == 200
    fast = await poll(harness, started["device_code"])
    assert fast.status_code == 400 and fast.json()["error_code"] == "slow_down"
    assert fast.headers["Retry-After"] == "7"  # 2 s + 5 s (RFC 8628)
    harness.clock.advance(seconds=3)
    still_fast = await poll(harness, started["device_code"])
    assert still_fast.json()["error_code"] == "slow_down"  # the interval grew to 7 s
    harness.clock.advance(seconds=13)
    assert (await poll(harness, started["device_code"])).json() == {"status": "pending"}


async def test_an_expired_pairing_can_be_neither_confirmed_nor_collected(
    harness: Harness, team_a: Team
) -> None:
    started = await start(harness)
    harness.clock.advance(seconds=61)
    late = await harness.client.post(
        CONFIRM, headers=session(team_a), json={"user_code": started["user_code"]}
    )
    assert late.status_code == 404 and late.json()["error_code"] == "pairing_not_found"
    polled = await poll(harness, started["device_code"])
    assert polled.status_code == 400 and polled.json()["error_code"] == "expired_token"
    unknown = await poll(harness, "pc-nothing")
    assert unknown.status_code == 400 and unknown.json()["error_code"] == "invalid_grant"


async def test_a_denied_pairing_answers_access_denied(harness: Harness, team_a: Team) -> None:
    started = await start(harness)
    denied = await harness.client.post(
        DENY, headers=session(team_a), json={"user_code": started["user_code"]}
    )
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    polled = await poll(harness, started["device_code"])
    assert polled.status_code == 400 and polled.json()["error_code"] == "access_denied"


async def test_a_session_pairs_only_into_its_own_team(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    started = await start(harness)
    code = {"user_code": started["user_code"]}
    into_a = await harness.client.post(CONFIRM, headers=session(team_b, team_a.id), json=code)
    assert into_a.status_code == 403 and into_a.json()["error_code"] == "not_a_member"
    into_b = await harness.client.post(CONFIRM, headers=session(team_b), json=code)
    assert into_b.status_code == 200
    body = (await poll(harness, started["device_code"])).json()
    assert body["team_id"] == team_b.id
    device = {"Authorization": f"Bearer {body['device_key']}"}

    async def workflow_ids(headers: dict[str, str]) -> set[str]:
        r = await harness.client.get("/api/v1/r/workflows", headers=headers)
        assert r.status_code == 200, r.text
        return {w["id"] for w in r.json()["workflow_list"]}

    paired = await workflow_ids(device)
    assert paired == await workflow_ids(team_b.auth("integration"))
    assert not paired & await workflow_ids(team_a.auth("integration"))


@pytest.mark.parametrize("kind", ["integration", "device", "agent", "none"])
async def test_only_a_session_confirms(harness: Harness, team_a: Team, kind: str) -> None:
    started = await start(harness)
    headers = {} if kind == "none" else team_a.auth(kind)
    r = await harness.client.post(
        CONFIRM, headers=headers, json={"user_code": started["user_code"]}
    )
    assert r.status_code == (401 if kind == "none" else 403)
    assert (await poll(harness, started["device_code"])).json() == {"status": "pending"}


async def test_the_companion_agent_key_is_revoked_with_the_device_key(
    harness: Harness, team_a: Team
) -> None:
    started = await start(harness, with_agent_key=True)
    await harness.client.post(
        CONFIRM, headers=session(team_a), json={"user_code": started["user_code"]}
    )
    body = (await poll(harness, started["device_code"])).json()
    assert body["agent_key"].startswith("ak-") and body["device_key"].startswith("dk-")
    agent = {"Authorization": f"Bearer {body['agent_key']}"}
    device = {"Authorization": f"Bearer {body['device_key']}"}
    # An agent key is refused outside the gateway (403), not as unknown or revoked (401).
    assert (await harness.client.get("/api/v1/r/tasks", headers=agent)).status_code == 403
    listed = (await harness.client.get("/api/v1/credentials", headers=session(team_a))).json()
    dk = next(
        c for c in listed["credentials"] if c["kind"] == "device" and c["display_name"] == "laptop"
    )
    ak = next(c for c in listed["credentials"] if c["companion_of"] == dk["id"])
    assert ak["kind"] == "agent" and ak["display_name"] == "laptop (paired agent)"
    revoked = await harness.client.delete(
        f"/api/v1/credentials/{dk['id']}", headers=session(team_a)
    )
    assert revoked.status_code == 204
    for headers in (agent, device):
        r = await harness.client.get("/api/v1/r/tasks", headers=headers)
        assert r.status_code == 401 and r.json()["error_code"] == "credential_revoked"


async def test_an_agent_key_needs_an_admin_to_confirm(harness: Harness, team_a: Team) -> None:
    from runyard.teams.service import TeamService

    async with harness.app.state.services.db.session() as s:
        user = await TeamService(s).create_user("vera@example.com", "password-vera")
        await TeamService(s).add_member(team_a.id, user.email_address, "member")
        await s.commit()
    login = await harness.client.post(
        "/api/v1/auth/login",
        json={"email_address": "vera@example.com", "user_password": "password-vera"},
    )
    member = {"Authorization": f"Bearer {login.json()['access_token']}"}
    started = await start(harness, with_agent_key=True)
    r = await harness.client.post(CONFIRM, headers=member, json={"user_code": started["user_code"]})
    assert r.status_code == 403 and r.json()["error_code"] == "role_insufficient"
    plain = await start(harness)
    ok = await harness.client.post(CONFIRM, headers=member, json={"user_code": plain["user_code"]})
    assert ok.status_code == 200


async def test_starts_and_polls_are_rate_limited_per_address(db_url: str, tmp_path: Path) -> None:
    rates = RateLimitSettings(pair_start_per_address="2/minute", pair_poll_per_address="3/minute")
    async with running_app(make_settings(db_url, tmp_path / "data", rate_limit=rates)) as h:
        started = [await start(h), await start(h)]
        third = await h.client.post(START, json={"device_name": "laptop"})
        assert third.status_code == 429 and third.json()["error_code"] == "rate_limited"
        assert int(third.headers["Retry-After"]) >= 1
        for _ in range(3):
            h.clock.advance(seconds=10)
            assert (await poll(h, started[0]["device_code"])).status_code == 200
        h.clock.advance(seconds=10)
        assert (await poll(h, started[1]["device_code"])).status_code == 429
