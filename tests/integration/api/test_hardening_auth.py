"""Session tokens (required claims, sid bound to sub, kid and rotation) and rate limits (429 +
Retry-After per credential and address; a lock-out that does not lock the real user out;
counters shared by every server process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt

from runyard.auth.security import encode_access_token, key_id, token_key
from runyard.settings import RateLimitSettings
from tests.support.app import SECRET, Harness, Team, make_settings, running_app

LOGIN = "/api/v1/auth/login"


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def forge(claims: dict[str, Any], secret: str = SECRET, kid: str | None = "default") -> str:
    headers = {"kid": key_id(secret) if kid == "default" else kid} if kid else None
    return jwt.encode(claims, token_key(secret), algorithm="HS256", headers=headers)


async def me(h: Harness, token: str) -> httpx.Response:
    return await h.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})


async def test_tokens_need_every_claim_and_their_own_session(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    assert (await me(harness, team_a.session_token)).status_code == 200
    alice, bob = claims_of(team_a.session_token), claims_of(team_b.session_token)
    assert jwt.get_unverified_header(team_a.session_token)["kid"] == key_id(SECRET)
    for claim in ("exp", "sub", "sid", "typ", "iat"):
        partial = {k: v for k, v in alice.items() if k != claim}
        r = await me(harness, forge(partial))
        assert r.status_code == 401 and r.json()["error_code"] == "invalid_token", claim
    # Alice's user id with Bob's (live) login: refused.
    r = await me(harness, forge({**alice, "sid": bob["sid"]}))
    assert r.status_code == 401, r.text
    for bad in (
        forge(alice, kid=None),  # no kid
        forge(alice, kid="0" * 16),  # unknown kid
        jwt.encode(alice, SECRET, algorithm="HS256", headers={"kid": key_id(SECRET)}),  # raw key
        forge({**alice, "typ": "refresh"}),
        forge({**alice, "sub": 42}),
    ):
        assert (await me(harness, bad)).status_code == 401


async def test_a_retired_secret_keeps_sessions_until_dropped(
    harness: Harness, team_a: Team, db_url: str, tmp_path: Path
) -> None:
    old = "previous-secret-" + "k3y" * 12
    alice = claims_of(team_a.session_token)
    now = datetime.now(UTC)
    token = encode_access_token(old, alice["sub"], alice["sid"], now, 600)
    assert (await me(harness, token)).status_code == 401  # not a key of this server
    rotated = make_settings(db_url, tmp_path / "rotated", previous_secret_keys=[old])
    async with running_app(rotated) as h:
        assert (await me(h, token)).status_code == 200
        assert (await me(h, team_a.session_token)).status_code == 200
        expired = encode_access_token(old, alice["sub"], alice["sid"], now - timedelta(1), 60)
        assert (await me(h, expired)).status_code == 401


@asynccontextmanager
async def client_at(h: Harness, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=h.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_an_attacker_elsewhere_cannot_lock_the_user_out(
    harness: Harness, team_a: Team
) -> None:
    wrong = {"email_address": "alice@example.com", "user_password": "guess"}
    right = {"email_address": "alice@example.com", "user_password": "password-alpha"}
    async with client_at(harness, "198.51.100.7") as attacker:
        statuses = [(await attacker.post(LOGIN, json=wrong)).status_code for _ in range(30)]
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
        refused = await attacker.post(LOGIN, json=right)
        assert refused.status_code == 429 and refused.json()["error_code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    async with client_at(harness, "203.0.113.20") as user:
        ok = await user.post(LOGIN, json=right)
        assert ok.status_code == 200, ok.text


async def test_login_counters_are_shared_by_server_processes(
    harness: Harness, team_a: Team, db_url: str, tmp_path: Path
) -> None:
    wrong = {"email_address": "alice@example.com", "user_password": "guess"}
    async with client_at(harness, "198.51.100.8") as first:
        for _ in range(10):
            assert (await first.post(LOGIN, json=wrong)).status_code == 401
    # A second server process: its own app, engine and limiter over the same database.
    async with running_app(make_settings(db_url, tmp_path / "second")) as other:  # noqa: SIM117
        async with client_at(other, "198.51.100.8") as second:
            r = await second.post(LOGIN, json=wrong)
            assert r.status_code == 429 and "Retry-After" in r.headers


async def test_presign_and_run_are_limited_per_credential(db_url: str, tmp_path: Path) -> None:
    rates = RateLimitSettings(presign="3/minute", run="2/minute")
    async with running_app(make_settings(db_url, tmp_path / "d", rate_limit=rates)) as h:
        team = await h.team("alpha", "alice@example.com")
        body = {"file_name": "a.txt", "file_size": 3, "content_type": "text/plain"}
        statuses = []
        for _ in range(4):
            r = await h.client.post(
                "/api/v1/r/files/presign", headers=team.auth("integration"), json=body
            )
            statuses.append(r.status_code)
        assert statuses == [200, 200, 200, 429]
        assert r.json()["error_code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
        # another credential of the same team has its own budget
        other = await h.client.post("/api/v1/r/files/presign", headers=team.auth(), json=body)
        assert other.status_code == 200, other.text
        runs = []
        for _ in range(3):
            r = await h.client.post(
                "/api/v1/r/workflows/slug/echo/run",
                headers=team.auth("device"),
                json={"parameters": {}},
            )
            runs.append(r.status_code)
        assert runs == [422, 422, 429], runs
        assert "Retry-After" in r.headers
