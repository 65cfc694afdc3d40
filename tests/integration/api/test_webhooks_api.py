"""The webhook management API: CRUD, the secret shown only on creation and rotation, the access
matrix row of `/webhooks`, another team's ids, validation errors with the contract's body, and
URLs refused at registration (the default settings: https only, no private addresses)."""

from __future__ import annotations

from typing import Any

import pytest

from runyard.teams.service import TeamService
from tests.support.app import Harness, Team

URL = "https://93.184.216.34/hooks/runyard"  # a public address literal: no DNS needed
BODY = {"display_name": "results", "webhook_url": URL, "webhook_events": ["task.completed"]}


def error_body(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) >= {"error_message", "error_code", "request_id"}, body
    assert body["error_message"]
    if code is not None:
        assert body["error_code"] == code, body
    return body


async def create(h: Harness, team: Team, **overrides: Any) -> dict[str, Any]:
    r = await h.client.post("/api/v1/webhooks", headers=team.auth(), json={**BODY, **overrides})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_crud_and_the_secret_is_shown_only_on_create_and_rotate(
    harness: Harness, team_a: Team
) -> None:
    c = harness.client
    created = await create(harness, team_a)
    assert set(created) == {"id", "webhook_secret"}
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_") and len(secret) == 6 + 44
    hook_id = created["id"]

    one = await c.get(f"/api/v1/webhooks/{hook_id}", headers=team_a.auth())
    assert one.status_code == 200
    got = one.json()
    assert got["webhook_url"] == URL and got["webhook_events"] == ["task.completed"]
    assert got["is_enabled"] is True and got["disabled_reason"] is None
    listed = await c.get("/api/v1/webhooks", headers=team_a.auth())
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["webhooks"]] == [hook_id]
    assert listed.json()["page_meta"] == {"current_page": 1, "per_page": 20, "total_count": 1}
    for r in (one, listed):
        assert secret not in r.text and "webhook_secret" not in r.text

    put = await c.put(
        f"/api/v1/webhooks/{hook_id}",
        headers=team_a.auth(),
        json={"display_name": "renamed", "webhook_events": ["task.failed", "task.cancelled"]},
    )
    assert put.status_code == 200, put.text
    assert put.json()["display_name"] == "renamed" and put.json()["webhook_url"] == URL
    assert put.json()["webhook_events"] == ["task.failed", "task.cancelled"]
    assert secret not in put.text

    off = await c.put(
        f"/api/v1/webhooks/{hook_id}", headers=team_a.auth(), json={"is_enabled": False}
    )
    assert off.json()["is_enabled"] is False and off.json()["disabled_reason"]

    rotated = await c.post(f"/api/v1/webhooks/{hook_id}/rotate-secret", headers=team_a.auth())
    assert rotated.status_code == 200
    new_secret = rotated.json()["webhook_secret"]
    assert new_secret.startswith("whsec_") and new_secret != secret

    deliveries = await c.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=team_a.auth())
    assert deliveries.status_code == 200
    assert deliveries.json() == {
        "deliveries": [],
        "page_meta": {"current_page": 1, "per_page": 20, "total_count": 0},
    }

    gone = await c.delete(f"/api/v1/webhooks/{hook_id}", headers=team_a.auth())
    assert gone.status_code == 204
    error_body(
        await c.get(f"/api/v1/webhooks/{hook_id}", headers=team_a.auth()), 404, "webhook_not_found"
    )


async def role_headers(h: Harness, team: Team) -> dict[str, dict[str, str]]:
    who = {
        "owner": team.auth("session"),
        "sk": team.auth("integration"),
        "dk": team.auth("device"),
        "ak": team.auth("agent"),
        "none": {},
    }
    async with h.app.state.services.db.session() as session:
        service = TeamService(session)
        for role in ("admin", "member", "viewer"):
            user = await service.create_user(f"wh-{role}@example.com", f"password-{role}")
            await service.add_member(team.id, user.email_address, role)
        await session.commit()
    for role in ("admin", "member", "viewer"):
        r = await h.client.post(
            "/api/v1/auth/login",
            json={"email_address": f"wh-{role}@example.com", "user_password": f"password-{role}"},
        )
        who[role] = {"Authorization": f"Bearer {r.json()['access_token']}", "X-Team-ID": team.id}
    return who


EXPECTED = {
    "owner": None,
    "admin": None,
    "member": 403,
    "viewer": 403,
    "sk": 403,
    "dk": 403,
    "ak": 403,
    "none": 401,
}


async def test_the_access_matrix_row_of_webhooks(harness: Harness, team_a: Team) -> None:
    hook_id = (await create(harness, team_a))["id"]
    who = await role_headers(harness, team_a)
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/webhooks", BODY),
        ("GET", "/api/v1/webhooks", None),
        ("GET", f"/api/v1/webhooks/{hook_id}", None),
        ("PUT", f"/api/v1/webhooks/{hook_id}", {"display_name": "x"}),
        ("POST", f"/api/v1/webhooks/{hook_id}/rotate-secret", None),
        ("GET", f"/api/v1/webhooks/{hook_id}/deliveries", None),
    ]
    failures = []
    for caller, expected in EXPECTED.items():
        for method, path, body in requests:
            r = await harness.client.request(method, path, headers=who[caller], json=body)
            if expected is None:
                ok = r.status_code in (200, 201)
            else:
                ok = r.status_code == expected
                if ok:
                    error_body(r, expected)
            if not ok:
                failures.append(f"{caller}: {method} {path} -> {r.status_code} {r.text[:100]}")
    for caller, expected in EXPECTED.items():
        r = await harness.client.delete(f"/api/v1/webhooks/{hook_id}", headers=who[caller])
        if expected is not None and r.status_code != expected:
            failures.append(f"{caller}: DELETE -> {r.status_code}")
    assert not failures, "\n".join(failures)


async def test_another_teams_webhook_answers_like_an_unknown_one(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    theirs = (await create(harness, team_b))["id"]
    unknown = "0193aaaa-0000-7000-8000-000000000000"
    for hook_id in (theirs, unknown):
        for method, path, body in [
            ("GET", f"/api/v1/webhooks/{hook_id}", None),
            ("PUT", f"/api/v1/webhooks/{hook_id}", {"display_name": "mine now"}),
            ("DELETE", f"/api/v1/webhooks/{hook_id}", None),
            ("POST", f"/api/v1/webhooks/{hook_id}/rotate-secret", None),
            ("GET", f"/api/v1/webhooks/{hook_id}/deliveries", None),
        ]:
            r = await harness.client.request(method, path, headers=team_a.auth(), json=body)
            body_json = error_body(r, 404, "webhook_not_found")
            assert hook_id not in body_json["error_message"]
    r = await harness.client.post(
        f"/api/v1/webhooks/deliveries/{unknown}/redeliver", headers=team_a.auth()
    )
    error_body(r, 404, "delivery_not_found")
    listed = await harness.client.get("/api/v1/webhooks", headers=team_a.auth())
    assert listed.json()["webhooks"] == []
    still = await harness.client.get(f"/api/v1/webhooks/{theirs}", headers=team_b.auth())
    assert still.status_code == 200 and still.json()["display_name"] == "results"


@pytest.mark.parametrize(
    "body",
    [
        {"webhook_events": ["task.completed"]},
        {"webhook_url": URL},
        {"webhook_url": URL, "webhook_events": []},
        {"webhook_url": URL, "webhook_events": ["task.started"]},
        {"webhook_url": URL, "webhook_events": "task.completed"},
        {"webhook_url": "", "webhook_events": ["task.failed"]},
        {"webhook_url": URL, "webhook_events": ["task.failed"], "display_name": "x" * 201},
        {"webhook_url": "https://x/" + "a" * 2050, "webhook_events": ["task.failed"]},
    ],
)
async def test_invalid_bodies_answer_422_with_the_error_body(
    harness: Harness, team_a: Team, body: dict[str, Any]
) -> None:
    r = await harness.client.post("/api/v1/webhooks", headers=team_a.auth(), json=body)
    error_body(r, 422, "invalid_request")


async def test_malformed_json_answers_400(harness: Harness, team_a: Team) -> None:
    r = await harness.client.post(
        "/api/v1/webhooks",
        headers={**team_a.auth(), "Content-Type": "application/json"},
        content=b"{not json",
    )
    error_body(r, 400, "malformed_json")


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",  # not https
        "https://127.0.0.1/hook",
        "https://localhost/hook",  # resolves to loopback
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        # IPv6 forms carrying an IPv4 address (issue 32): IPv4-compatible, SIIT, NAT64.
        "https://[::127.0.0.1]/hook",
        "https://[::ffff:0:7f00:1]/hook",
        "https://[64:ff9b::7f00:1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "https://[64:ff9b:1::a00:7]/hook",
        "https://user:pw@93.184.216.34/hook",
        "ftp://93.184.216.34/hook",
    ],
)
async def test_private_or_non_https_urls_are_refused_at_registration(
    harness: Harness, team_a: Team, url: str
) -> None:
    r = await harness.client.post(
        "/api/v1/webhooks",
        headers=team_a.auth(),
        json={"webhook_url": url, "webhook_events": ["task.completed"]},
    )
    refused = error_body(r, 422, "webhook_url_not_allowed")
    message = refused["error_message"]
    if "localhost" in url:  # what a name resolves to is not told
        assert "127.0.0.1" not in message and "::1" not in message
    if url.startswith("http://"):  # says which setting lifts the refusal
        assert "RUNYARD_WEBHOOK_ALLOW_HTTP=true" in message
    elif "@" not in url and not url.startswith("ftp"):
        assert "RUNYARD_WEBHOOK_ALLOW_PRIVATE=true" in message
    hook_id = (await create(harness, team_a))["id"]
    put = await harness.client.put(
        f"/api/v1/webhooks/{hook_id}", headers=team_a.auth(), json={"webhook_url": url}
    )
    error_body(put, 422, "webhook_url_not_allowed")
    kept = await harness.client.get(f"/api/v1/webhooks/{hook_id}", headers=team_a.auth())
    assert kept.json()["webhook_url"] == URL


async def test_openapi_describes_the_webhook_routes(harness: Harness) -> None:
    spec = (await harness.client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/api/v1/webhooks"]) == {"get", "post"}
    assert set(paths["/api/v1/webhooks/{webhook_id}"]) == {"get", "put", "delete"}
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/rotate-secret"]
    assert "get" in paths["/api/v1/webhooks/{webhook_id}/deliveries"]
    redeliver = paths["/api/v1/webhooks/deliveries/{delivery_id}/redeliver"]["post"]
    assert {"202", "404", "409", "401", "403"} <= set(redeliver["responses"])
    assert "WebhookCreated" in spec["components"]["schemas"]
