"""The team's custom node packages over a real database and the embedded store: an archive
uploaded through /models/presign, registered (the server opens it and checks every entry),
listed, disabled, renamed, deleted; bad archives (422 naming the entry), other teams' keys and
ids (404), roles (viewer and sk- keys read, never write)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from typing import Any

from runyard.models import StoredFile
from tests.integration.api.test_models_library import uploaded
from tests.support.app import Harness, Team

INIT = b"NODE_CLASS_MAPPINGS = {}\n"


def tar_gz(members: list[tuple[str, bytes]], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def a_zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


GOOD = tar_gz([("my_nodes/__init__.py", INIT), ("my_nodes/requirements.txt", b"pillow\n")])


async def register(h: Harness, team: Team, body: dict[str, Any], kind: str = "session"):  # type: ignore[no-untyped-def]
    return await h.client.post("/api/v1/node-packages", headers=team.auth(kind), json=body)


async def test_upload_register_list_disable_rename_delete(harness: Harness, team_a: Team) -> None:
    key = await uploaded(harness, team_a, GOOD)
    created = await register(harness, team_a, {"file_key": key})
    assert created.status_code == 201, created.text
    row = created.json()
    assert (row["name"], row["package_status"], row["requirements"], row["file_count"]) == (
        "my_nodes",
        "active",
        "pillow\n",
        2,
    )
    assert row["file_size"] == len(GOOD) and row["created_by"]
    # an sk- key reads; the list has its page_meta
    listed = await harness.client.get("/api/v1/node-packages", headers=team_a.auth("integration"))
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["node_package_list"]] == [row["id"]]
    one = await harness.client.get(f"/api/v1/node-packages/{row['id']}", headers=team_a.auth())
    assert one.json() == row
    # a zip registered under another name; the same name again is a conflict
    zkey = await uploaded(harness, team_a, a_zip([("z/__init__.py", INIT)]))
    named = await register(harness, team_a, {"file_key": zkey, "name": "zipped"}, "device")
    assert named.status_code == 201 and named.json()["name"] == "zipped"
    again = await register(harness, team_a, {"file_key": key})
    assert again.status_code == 409 and again.json()["error_code"] == "node_package_exists"
    # disable (leaves the active filter) and rename
    changed = await harness.client.put(
        f"/api/v1/node-packages/{row['id']}",
        headers=team_a.auth(),
        json={"package_status": "disabled", "name": "my_nodes_v2"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["package_status"]) == ("my_nodes_v2", "disabled")
    active = await harness.client.get(
        "/api/v1/node-packages", headers=team_a.auth(), params={"package_status": "active"}
    )
    assert [p["name"] for p in active.json()["node_package_list"]] == ["zipped"]
    # pinned while registered, unpinned once deleted
    file_id = key.split("/")[2]
    async with harness.app.state.services.db.session() as session:
        file = await session.get(StoredFile, file_id)
        assert file is not None and file.expires_at.year == 9999
    gone = await harness.client.delete(f"/api/v1/node-packages/{row['id']}", headers=team_a.auth())
    assert gone.status_code == 204
    async with harness.app.state.services.db.session() as session:
        file = await session.get(StoredFile, file_id)
        assert file is not None and file.expires_at.year < 9999
    # the zip's bytes registered as a model too
    model = await harness.client.post(
        "/api/v1/models",
        headers=team_a.auth(),
        json={
            "display_name": "same bytes",
            "model_type": "checkpoints",
            "model_path": "nodes.tar.gz",
            "file_key": zkey,
            "sha256": named.json()["sha256"],
        },
    )
    assert model.status_code == 201, model.text
    # the model goes first: the bytes stay pinned while the package names them
    model_path = f"/api/v1/models/{model.json()['id']}"
    assert (await harness.client.delete(model_path, headers=team_a.auth())).status_code == 204
    async with harness.app.state.services.db.session() as session:
        file = await session.get(StoredFile, zkey.split("/")[2])
        assert file is not None and file.expires_at.year == 9999
    package_path = f"/api/v1/node-packages/{named.json()['id']}"
    assert (await harness.client.delete(package_path, headers=team_a.auth())).status_code == 204
    async with harness.app.state.services.db.session() as session:
        file = await session.get(StoredFile, zkey.split("/")[2])
        assert file is not None and file.expires_at.year < 9999
    missing = await harness.client.get(f"/api/v1/node-packages/{row['id']}", headers=team_a.auth())
    assert missing.status_code == 404 and missing.json()["error_code"] == "node_package_not_found"


async def test_bad_archives_answer_422_naming_the_entry(harness: Harness, team_a: Team) -> None:
    cases = [
        (tar_gz([("p/__init__.py", INIT), ("p/../../evil.py", b"x")]), "p/../../evil.py"),
        (tar_gz([("/abs/__init__.py", INIT)]), "/abs/__init__.py"),
        (tar_gz([("p/__init__.py", INIT)], {"p/out": "../../etc/passwd"}), "p/out"),
        (a_zip([("p/__init__.py", INIT), ("q/x.py", b"x")]), "q/x.py"),
        (tar_gz([("p/__init__.py", INIT), ("p/zeros", bytes(30_000_000))]), "p/zeros"),
    ]
    for data, entry in cases:
        key = await uploaded(harness, team_a, data)
        r = await register(harness, team_a, {"file_key": key})
        assert r.status_code == 422, (entry, r.text)
        assert r.json()["error_code"] == "invalid_node_package"
        assert entry in r.json()["error_message"], r.text
    no_init = await uploaded(harness, team_a, tar_gz([("p/x.py", b"x")]))
    r = await register(harness, team_a, {"file_key": no_init})
    assert r.status_code == 422 and "__init__.py" in r.json()["error_message"]
    junk = await uploaded(harness, team_a, b"not an archive, just bytes")
    r = await register(harness, team_a, {"file_key": junk})
    assert r.status_code == 422 and "not a zip or tar" in r.json()["error_message"]
    good = await uploaded(harness, team_a, GOOD)
    bad_name = await register(harness, team_a, {"file_key": good, "name": "../up"})
    assert bad_name.status_code == 422 and bad_name.json()["error_code"] == "invalid_node_package"
    wrong_sha = await register(harness, team_a, {"file_key": good, "sha256": "0" * 64})
    assert wrong_sha.status_code == 400 and wrong_sha.json()["error_code"] == "checksum_mismatch"


async def test_other_teams_and_roles(harness: Harness, team_a: Team, team_b: Team) -> None:
    key = await uploaded(harness, team_a, GOOD)
    elsewhere = await register(harness, team_b, {"file_key": key})
    assert elsewhere.status_code == 404 and elsewhere.json()["error_code"] == "file_not_found"
    input_key = await harness.upload(team_a, GOOD)
    not_library = await register(harness, team_a, {"file_key": input_key})
    assert not_library.status_code == 404
    row = (await register(harness, team_a, {"file_key": key})).json()
    for method in ("GET", "PUT", "DELETE"):
        r = await harness.client.request(
            method,
            f"/api/v1/node-packages/{row['id']}",
            headers=team_b.auth(),
            json={"package_status": "disabled"} if method == "PUT" else None,
        )
        assert r.status_code == 404, (method, r.text)
    # an sk- key reads, never writes
    sk = await register(harness, team_a, {"file_key": key, "name": "other"}, "integration")
    assert sk.status_code == 403
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
    assert (await harness.client.get("/api/v1/node-packages", headers=viewer)).status_code == 200
    write = await harness.client.post(
        "/api/v1/node-packages", headers=viewer, json={"file_key": key, "name": "v"}
    )
    assert write.status_code == 403
    put = await harness.client.put(
        f"/api/v1/node-packages/{row['id']}", headers=viewer, json={"package_status": "disabled"}
    )
    assert put.status_code == 403
