"""Every cell of the contract's access matrix (section 2), against the real endpoints.

The expectations are written out here from the contract, not derived from the code's table."""

from __future__ import annotations

import pytest

from runyard.credentials.service import CredentialService
from runyard.teams.service import TeamService
from tests.support.app import Harness, Team

OK = "ok"
# row -> caller -> expected (OK or status). Callers: session roles, sk, dk (of an owner), ak, none.
MATRIX: dict[str, dict[str, object]] = {
    "runtime_write": {
        "owner": OK,
        "admin": OK,
        "member": OK,
        "viewer": 403,
        "sk": OK,
        "dk": OK,
        "ak": 403,
        "none": 401,
    },
    "runtime_read": {
        "owner": OK,
        "admin": OK,
        "member": OK,
        "viewer": OK,
        "sk": OK,
        "dk": OK,
        "ak": 403,
        "none": 401,
    },
    "manage_read": {
        "owner": OK,
        "admin": OK,
        "member": OK,
        "viewer": OK,
        "sk": 403,
        "dk": OK,
        "ak": 403,
        "none": 401,
    },
    "manage_write": {
        "owner": OK,
        "admin": OK,
        "member": OK,
        "viewer": 403,
        "sk": 403,
        "dk": OK,
        "ak": 403,
        "none": 401,
    },
    "admin": {
        "owner": OK,
        "admin": OK,
        "member": 403,
        "viewer": 403,
        "sk": 403,
        "dk": 403,
        "ak": 403,
        "none": 401,
    },
    "account": {
        "owner": OK,
        "admin": OK,
        "member": OK,
        "viewer": OK,
        "sk": 403,
        "dk": 403,
        "ak": 403,
        "none": 401,
    },
    "users_me": {
        "owner": OK,
        "admin": OK,
        "member": OK,
        "viewer": OK,
        "sk": 403,
        "dk": OK,
        "ak": 403,
        "none": 401,
    },
}
WORKFLOW = {
    "workflow_slug": "matrix-probe",
    "tool_type": "python",
    "workflow_json": {"entrypoint": "m:f"},
}


def requests_for(row: str, team: Team) -> list[tuple[str, str, dict[str, object] | None]]:
    return {
        "runtime_write": [
            (
                "POST",
                "/api/v1/r/files/presign",
                {"file_name": "a.txt", "file_size": 3, "content_type": "text/plain"},
            )
        ],
        "runtime_read": [
            ("GET", "/api/v1/r/tasks", None),
            ("GET", "/api/v1/r/workflows", None),
            ("GET", "/api/v1/r/agents", None),
            ("GET", "/api/v1/models", None),
        ],
        "manage_read": [("GET", "/api/v1/workflows", None)],
        "manage_write": [
            ("POST", "/api/v1/workflows/import", WORKFLOW),
            ("POST", "/api/v1/models/presign", {"file_size": 3, "sha256": "ab" * 32}),
        ],
        "admin": [
            ("GET", "/api/v1/credentials", None),
            ("GET", f"/api/v1/teams/{team.id}/members", None),
            ("GET", f"/api/v1/teams/{team.id}/invitations", None),
            ("PUT", f"/api/v1/teams/{team.id}", {"display_name": team.p.team_id[:8]}),
        ],
        "account": [
            ("POST", "/api/v1/teams", {"display_name": "x"}),
            ("POST", "/api/v1/auth/device-keys", {"device_name": "laptop"}),
            ("PUT", "/api/v1/users/me", {"display_name": "x"}),
        ],
        "users_me": [("GET", "/api/v1/users/me", None)],
    }[row]


async def callers(h: Harness, team: Team) -> dict[str, dict[str, str]]:
    result = {
        "owner": team.auth("session"),
        "sk": team.auth("integration"),
        "dk": team.auth("device"),
        "ak": team.auth("agent"),
        "none": {},
    }
    async with h.app.state.services.db.session() as session:
        service = TeamService(session)
        for role in ("admin", "member", "viewer"):
            user = await service.create_user(f"{role}@example.com", f"password-{role}")
            await service.add_member(team.id, user.email_address, role)
        await session.commit()
    for role in ("admin", "member", "viewer"):
        r = await h.client.post(
            "/api/v1/auth/login",
            json={"email_address": f"{role}@example.com", "user_password": f"password-{role}"},
        )
        result[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return result


async def test_every_cell_of_the_access_matrix(harness: Harness, team_a: Team) -> None:
    who = await callers(harness, team_a)
    failures = []
    for row, expected_by_caller in MATRIX.items():
        for caller, expected in expected_by_caller.items():
            for method, path, body in requests_for(row, team_a):
                headers = {**who[caller], "X-Team-ID": team_a.id} if caller != "none" else {}
                r = await harness.client.request(method, path, headers=headers, json=body)
                ok = r.status_code in (200, 201) if expected == OK else r.status_code == expected
                if not ok:
                    failures.append(
                        f"{row}/{caller}: {method} {path} -> {r.status_code} "
                        f"(want {expected}) {r.text[:120]}"
                    )
                elif expected != OK:
                    body_json = r.json()
                    assert set(body_json) >= {"error_message", "error_code", "request_id"}
    assert not failures, "\n".join(failures)


async def test_viewer_device_key_acts_with_its_users_role(harness: Harness, team_a: Team) -> None:
    await callers(harness, team_a)
    r = await harness.client.post(
        "/api/v1/auth/login",
        json={"email_address": "viewer@example.com", "user_password": "password-viewer"},
    )
    viewer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    dk = (
        await harness.client.post(
            "/api/v1/auth/device-keys", headers=viewer, json={"device_name": "v"}
        )
    ).json()["raw_key"]
    headers = {"Authorization": f"Bearer {dk}"}
    presign = await harness.client.post(
        "/api/v1/r/files/presign",
        headers=headers,
        json={"file_name": "a.txt", "file_size": 3, "content_type": "text/plain"},
    )
    assert presign.status_code == 403
    assert (await harness.client.get("/api/v1/r/tasks", headers=headers)).status_code == 200


@pytest.mark.parametrize("kind", ["integration", "agent"])
async def test_revoked_and_expired_keys_are_refused_on_the_next_request(
    harness: Harness,
    team_a: Team,
    kind: str,
) -> None:
    created = await harness.client.post(
        "/api/v1/credentials",
        headers=team_a.auth(),
        json={"kind": kind, "display_name": "temp", "expires_in_days": 1},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["raw_key"].startswith("sk-" if kind == "integration" else "ak-")
    assert body["key_prefix"] == body["raw_key"][:11]
    headers = {"Authorization": f"Bearer {body['raw_key']}"}
    probe = "/api/v1/r/tasks" if kind == "integration" else "/api/v1/r/tasks"
    first = await harness.client.get(probe, headers=headers)
    assert first.status_code == (200 if kind == "integration" else 403)
    harness.clock.advance(days=1, seconds=1)
    expired = await harness.client.get(probe, headers=headers)
    assert expired.status_code == 401 and expired.json()["error_code"] == "credential_expired"
    harness.clock.advance(days=-1, seconds=-1)
    revoke = await harness.client.delete(f"/api/v1/credentials/{body['id']}", headers=team_a.auth())
    assert revoke.status_code == 204
    after = await harness.client.get(probe, headers=headers)
    assert after.status_code == 401 and after.json()["error_code"] == "credential_revoked"


async def test_keys_are_stored_hashed(harness: Harness, team_a: Team) -> None:
    from sqlalchemy import select

    from runyard.models import ApiKey

    async with harness.app.state.services.db.session() as session:
        keys = list(await session.scalars(select(ApiKey)))
        for k in keys:
            assert len(k.key_hash) == 64 and not k.key_hash.startswith(("sk-", "dk-", "ak-"))
        _, raw = CredentialService(session, harness.clock).create(team_a.id, "integration")
        await session.flush()
        assert raw not in {k.key_hash for k in keys}
