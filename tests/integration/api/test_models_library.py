"""The team's model library over a real database and the embedded store: presign (sha256
required, the same bytes uploaded once), register after checking the upload, list, read,
change metadata, disable, delete; bad paths, other teams' keys and ids, roles."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from runyard.models import StoredFile
from tests.support.app import Harness, Team

BODY = os.urandom(5000)
SHA = hashlib.sha256(BODY).hexdigest()


async def post(h: Harness, team: Team, path: str, body: dict[str, Any], kind: str = "session"):  # type: ignore[no-untyped-def]
    return await h.client.post(f"/api/v1/models{path}", headers=team.auth(kind), json=body)


async def uploaded(h: Harness, team: Team, data: bytes = BODY, kind: str = "session") -> str:
    sha = hashlib.sha256(data).hexdigest()
    r = await post(
        h,
        team,
        "/presign",
        {"file_name": "x.safetensors", "file_size": len(data), "sha256": sha},
        kind,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    if not body["already_uploaded"]:
        put = await h.client.put(body["upload_url"], content=data, headers=body["upload_headers"])
        assert put.status_code == 200, put.text
    return str(body["file_key"])


def model(file_key: str, path: str = "detail/tweaker.safetensors", **extra: Any) -> dict[str, Any]:
    return {
        "display_name": "Detail tweaker",
        "model_type": "loras",
        "model_path": path,
        "file_key": file_key,
        "sha256": "sha256:" + SHA,
        **extra,
    }


async def test_upload_register_list_change_and_delete(harness: Harness, team_a: Team) -> None:
    key = await uploaded(harness, team_a)
    assert key.startswith(f"models/{team_a.id}/")

    created = await post(harness, team_a, "", model(key))

    assert created.status_code == 201, created.text
    row = created.json()
    assert (row["model_type"], row["model_path"], row["file_size"], row["sha256"]) == (
        "loras",
        "detail/tweaker.safetensors",
        len(BODY),
        SHA,
    )
    assert row["model_status"] == "active"
    # the same bytes presigned again: already uploaded, nothing to PUT
    again = await post(harness, team_a, "/presign", {"file_size": len(BODY), "sha256": SHA})
    assert again.json()["already_uploaded"] is True and again.json()["file_key"] == key
    # read with an sk- key; list with its page_meta
    listed = await harness.client.get("/api/v1/models", headers=team_a.auth("integration"))
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["model_list"]] == [row["id"]]
    assert listed.json()["page_meta"]["total_count"] == 1
    one = await harness.client.get(f"/api/v1/models/{row['id']}", headers=team_a.auth())
    assert one.json() == row
    # metadata changes; disabling leaves the active filter
    changed = await harness.client.put(
        f"/api/v1/models/{row['id']}",
        headers=team_a.auth("device"),
        json={"display_name": "Tweaker v2", "model_status": "disabled"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["sha256"]) == ("Tweaker v2", SHA)
    active = await harness.client.get(
        "/api/v1/models", headers=team_a.auth(), params={"model_status": "active"}
    )
    assert active.json()["model_list"] == []
    # the file is pinned while registered, unpinned once the model is deleted
    async with harness.app.state.services.db.session() as session:
        file = await session.get(StoredFile, key.split("/")[2])
        assert file is not None and file.expires_at.year == 9999
    gone = await harness.client.delete(f"/api/v1/models/{row['id']}", headers=team_a.auth())
    assert gone.status_code == 204
    async with harness.app.state.services.db.session() as session:
        file = await session.get(StoredFile, key.split("/")[2])
        assert file is not None and file.expires_at.year < 9999
    missing = await harness.client.get(f"/api/v1/models/{row['id']}", headers=team_a.auth())
    assert missing.status_code == 404 and missing.json()["error_code"] == "model_not_found"


async def test_bad_input_is_refused_clearly(harness: Harness, team_a: Team, team_b: Team) -> None:
    key = await uploaded(harness, team_a)
    for path in ("../escape.safetensors", "/abs.safetensors", "a\\b.safetensors", "a//b", "a/./b"):
        r = await post(harness, team_a, "", model(key, path))
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error_code"] == "invalid_model_path"
        assert path in r.json()["error_message"]
    bad_type = await post(harness, team_a, "", model(key, model_type="../loras"))
    assert bad_type.status_code == 422 and bad_type.json()["error_code"] == "invalid_model_type"
    wrong_sha = await post(harness, team_a, "", {**model(key), "sha256": "0" * 64})
    assert wrong_sha.status_code == 400 and wrong_sha.json()["error_code"] == "checksum_mismatch"
    # another team's file_key, and an input file's key, are not this team's model uploads
    elsewhere = await post(harness, team_b, "", model(key))
    assert elsewhere.status_code == 404 and elsewhere.json()["error_code"] == "file_not_found"
    input_key = await harness.upload(team_a, b"abc")
    not_model = await post(harness, team_a, "", model(input_key))
    assert not_model.status_code == 404
    # presigned but never PUT
    other = os.urandom(100)
    r = await post(
        harness,
        team_a,
        "/presign",
        {"file_size": len(other), "sha256": hashlib.sha256(other).hexdigest()},
    )
    pending = await post(
        harness,
        team_a,
        "",
        {**model(r.json()["file_key"]), "sha256": hashlib.sha256(other).hexdigest()},
    )
    assert pending.status_code == 422 and pending.json()["error_code"] == "file_not_uploaded"
    # a taken place; another team's model id
    first = await post(harness, team_a, "", model(key))
    assert first.status_code == 201
    taken = await post(harness, team_a, "", model(key))
    assert taken.status_code == 409 and taken.json()["error_code"] == "model_exists"
    for method in ("GET", "PUT", "DELETE"):
        r = await harness.client.request(
            method,
            f"/api/v1/models/{first.json()['id']}",
            headers=team_b.auth(),
            json={"display_name": "x"} if method == "PUT" else None,
        )
        assert r.status_code == 404, (method, r.text)
    # sha256 is required to presign a model
    no_sha = await post(harness, team_a, "/presign", {"file_size": 3})
    assert no_sha.status_code == 422


async def test_the_store_refuses_other_bytes_for_a_model(harness: Harness, team_a: Team) -> None:
    r = await post(harness, team_a, "/presign", {"file_size": len(BODY), "sha256": SHA})
    body = r.json()
    put = await harness.client.put(
        body["upload_url"], content=bytes(reversed(BODY)), headers=body["upload_headers"]
    )
    assert put.status_code == 400 and put.json()["error_code"] == "checksum_mismatch"
    refused = await post(harness, team_a, "", model(body["file_key"]))
    assert refused.status_code == 422 and refused.json()["error_code"] == "file_not_uploaded"


async def test_a_large_model_goes_in_parts_with_a_device_key(
    harness: Harness, team_a: Team
) -> None:
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    r = await post(
        harness, team_a, "/multipart/initiate", {"file_size": len(data), "sha256": sha}, "device"
    )
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["file_key"].startswith(f"models/{team_a.id}/")
    parts = await post(
        harness,
        team_a,
        "/multipart/presign-parts",
        {"upload_id": up["upload_id"], "file_key": up["file_key"], "part_numbers": [1]},
        "device",
    )
    part = parts.json()["parts"][0]
    put = await harness.client.put(part["upload_url"], content=data, headers=part["upload_headers"])
    done = await post(
        harness,
        team_a,
        "/multipart/complete",
        {
            "upload_id": up["upload_id"],
            "file_key": up["file_key"],
            "parts": [{"part_number": 1, "etag": put.headers["etag"]}],
        },
        "device",
    )
    assert done.status_code == 200, done.text
    created = await post(harness, team_a, "", {**model(up["file_key"]), "sha256": sha}, "device")
    assert created.status_code == 201, created.text
    # an sk- key reads but does not write
    refused = await post(
        harness, team_a, "/multipart/initiate", {"file_size": 1, "sha256": sha}, "integration"
    )
    assert refused.status_code == 403


async def test_viewer_reads_but_may_not_upload(harness: Harness, team_a: Team) -> None:
    from runyard.teams.service import TeamService

    async with harness.app.state.services.db.session() as session:
        service = TeamService(session)
        await service.create_user("viewer@example.com", "password-viewer")
        await service.add_member(team_a.id, "viewer@example.com", "viewer")
        await session.commit()
    login = await harness.client.post(
        "/api/v1/auth/login",
        json={"email_address": "viewer@example.com", "user_password": "password-viewer"},
    )
    viewer = {"Authorization": f"Bearer {login.json()['access_token']}", "X-Team-ID": team_a.id}
    read = await harness.client.get("/api/v1/models", headers=viewer)
    assert read.status_code == 200
    upload = await harness.client.post(
        "/api/v1/models/presign", headers=viewer, json={"file_size": 3, "sha256": SHA}
    )
    assert upload.status_code == 403
