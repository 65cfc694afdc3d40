"""Multipart uploads (contract section 4) on both stores, against the real endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from uploads_helpers import (
    BASE,
    MIB,
    PART,
    Uploader,
    payload,
    put_part_unsigned,
    stored_bytes,
    upload_staged,
)

from runyard.models import StoredFile
from runyard.storage.base import CompletedPart, ObjectInfo
from runyard.teams.service import TeamService
from tests.support.app import Harness, Team

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
LOCAL = pytest.mark.parametrize("backend", ["local"], indirect=True)
SIZE = 12 * MIB  # three parts: 5 + 5 + 2 MiB


async def test_multipart_upload_then_run_echo(alice: Uploader, harness: Harness) -> None:
    data = payload(SIZE)
    upload = await alice.initiate(SIZE, "scan.tiff", "image/tiff")
    assert (upload["part_size"], upload["part_count"]) == (PART, 3)
    assert upload["file_key"] == f"inputs/{alice.team.id}/{upload['upload_id']}/scan.tiff"
    presigned = (await alice.presign(upload, [1, 2, 3])).json()["parts"]
    assert [p["upload_headers"] for p in presigned] == [
        {"Content-Length": str(PART)},
        {"Content-Length": str(PART)},
        {"Content-Length": str(2 * MIB)},
    ]
    etags = await alice.send(upload, data, [1, 2, 3])
    r = await alice.complete(upload, etags)
    assert r.status_code == 200, r.text
    assert r.json() == {"file_key": upload["file_key"], "file_size": SIZE}
    assert stored_bytes(harness, upload["file_key"]) == data
    status = (await alice.status(upload["upload_id"])).json()
    assert status["upload_status"] == "completed" and status["parts_received"] == []
    async with harness.app.state.services.db.session() as session:
        f = (
            await session.scalars(
                select(StoredFile).where(StoredFile.file_key == upload["file_key"])
            )
        ).one()
        assert (f.source, f.file_status, f.file_size) == ("multipart", "uploaded", SIZE)
        assert f.expires_at - f.created_at == timedelta(seconds=harness.settings.retention.inputs)
    run = await alice.run_echo(upload["file_key"])
    assert run.status_code == 202, run.text
    again = await alice.complete(upload, etags)
    assert again.status_code == 409 and again.json()["error_code"] == "upload_completed"


async def _session_for(h: Harness, team: Team, role: str) -> dict[str, str]:
    async with h.app.state.services.db.session() as session:
        service = TeamService(session)
        user = await service.create_user(f"{role}@example.com", f"password-{role}")
        await service.add_member(team.id, user.email_address, role)
        await session.commit()
    r = await h.client.post(
        "/api/v1/auth/login",
        json={"email_address": f"{role}@example.com", "user_password": f"password-{role}"},
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}", "X-Team-ID": team.id}


@SQLITE
@LOCAL
async def test_only_member_session_tokens_may_call_multipart(
    alice: Uploader,
    harness: Harness,
    team_a: Team,
) -> None:
    upload = await alice.initiate(SIZE)
    ids = {"upload_id": upload["upload_id"], "file_key": upload["file_key"]}
    calls = [
        ("POST", f"{BASE}/initiate", {"file_name": "a.bin", "file_size": 10}),
        ("POST", f"{BASE}/presign-parts", {**ids, "part_numbers": [1]}),
        ("POST", f"{BASE}/complete", {**ids, "parts": [{"part_number": 1, "etag": "x"}]}),
        ("POST", f"{BASE}/abort", ids),
        ("GET", f"{BASE}/{upload['upload_id']}", None),
    ]
    viewer = await _session_for(harness, team_a, "viewer")
    member = await _session_for(harness, team_a, "member")
    for method, path, body in calls:
        for kind in ("integration", "device", "agent"):
            r = await harness.client.request(method, path, headers=team_a.auth(kind), json=body)
            assert r.status_code == 401, (kind, path, r.text)
            assert r.json()["error_code"] == "credential_kind_not_allowed"
            assert "/api/v1/r/files/presign" in r.json()["error_message"]
        r = await harness.client.request(method, path, headers=viewer, json=body)
        assert r.status_code == 403, (path, r.text)
        r = await harness.client.request(method, path, json=body)
        assert r.status_code == 401, (path, r.text)
    # A member may: the upload belongs to the team, not to the user who started it.
    assert (
        await harness.client.get(f"{BASE}/{upload['upload_id']}", headers=member)
    ).status_code == 200


@SQLITE
async def test_part_of_another_length_is_refused_by_the_store(alice: Uploader) -> None:
    upload = await alice.initiate(SIZE)
    part = (await alice.presign(upload, [1])).json()["parts"][0]
    wrong = {k: v for k, v in part["upload_headers"].items() if k != "Content-Length"}
    r = await alice.put(part["upload_url"], payload(PART - 1), wrong)
    assert r.status_code == 403, r.text
    r = await alice.put(part["upload_url"], payload(PART + 1), wrong)
    assert r.status_code == 403, r.text
    assert (await alice.status(upload["upload_id"])).json()["parts_received"] == []


@SQLITE
async def test_complete_refuses_missing_parts_and_keeps_the_upload(alice: Uploader) -> None:
    data = payload(SIZE)
    upload = await alice.initiate(SIZE)
    etags = await alice.send(upload, data, [1, 3])
    r = await alice.complete(upload, etags)
    assert r.status_code == 422 and r.json()["error_code"] == "parts_missing", r.text
    assert "2" in r.json()["error_message"]
    r = await alice.complete(upload, {**etags, 2: '"not-uploaded"'})
    assert r.status_code == 422 and r.json()["error_code"] == "parts_missing", r.text
    assert "not uploaded: 2" in r.json()["error_message"]
    r = await alice.complete(upload, {**etags, 4: '"x"'})
    assert r.status_code == 422 and r.json()["error_code"] == "invalid_part_numbers"
    assert (await alice.status(upload["upload_id"])).json()["upload_status"] == "open"
    etags.update(await alice.send(upload, data, [2]))
    r = await alice.complete(upload, {**etags, 1: '"stale"'})
    assert r.status_code == 422 and r.json()["error_code"] == "etag_mismatch", r.text
    assert (await alice.complete(upload, etags)).status_code == 200
    assert stored_bytes(alice.h, upload["file_key"]) == data


@SQLITE
async def test_size_mismatch_is_refused_and_nothing_is_kept(alice: Uploader) -> None:
    upload = await alice.initiate(SIZE)
    etags = await alice.send(upload, payload(SIZE), [1, 2])
    row = await alice.row(upload["upload_id"])
    # Part 3 one byte too long, stored behind the signed URL's back.
    etags[3] = await put_part_unsigned(
        alice.h, row.file_key, row.backend_upload_id, 3, payload(2 * MIB + 1)
    )
    r = await alice.complete(upload, etags)
    assert r.status_code == 422 and r.json()["error_code"] == "size_mismatch", r.text
    assert stored_bytes(alice.h, upload["file_key"]) is None
    assert not upload_staged(alice.h, row.file_key, row.backend_upload_id)
    status = (await alice.status(upload["upload_id"])).json()
    assert status["upload_status"] == "aborted" and status["parts_received"] == []
    assert (await alice.run_echo(upload["file_key"])).json()["errors"][0][
        "error_code"
    ] == "file_not_found"


@SQLITE
@LOCAL
async def test_completed_object_of_the_wrong_size_is_deleted(
    alice: Uploader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = alice.h.app.state.services.storage
    assemble = storage.complete_multipart

    async def one_byte_short(key: str, upload_id: str, parts: list[CompletedPart]) -> ObjectInfo:
        """A buggy store: the assembled object comes out one byte short."""
        info: ObjectInfo = await assemble(key, upload_id, parts)
        with open(storage.path_of(key), "r+b") as f:
            f.truncate(info.size - 1)
        return info

    monkeypatch.setattr(storage, "complete_multipart", one_byte_short)
    upload = await alice.initiate(SIZE)
    etags = await alice.send(upload, payload(SIZE), [1, 2, 3])
    r = await alice.complete(upload, etags)
    assert r.status_code == 422 and r.json()["error_code"] == "size_mismatch", r.text
    assert "declared file_size" in r.json()["error_message"]
    assert not storage.path_of(upload["file_key"]).exists()
    assert (await alice.status(upload["upload_id"])).json()["upload_status"] == "aborted"


@SQLITE
async def test_abort_drops_the_staged_parts(alice: Uploader) -> None:
    upload = await alice.initiate(SIZE)
    await alice.send(upload, payload(SIZE), [1])
    row = await alice.row(upload["upload_id"])
    assert upload_staged(alice.h, row.file_key, row.backend_upload_id)
    r = await alice.abort(upload)
    assert r.status_code == 200 and r.json() == {"is_success": True}
    assert not upload_staged(alice.h, row.file_key, row.backend_upload_id)
    status = (await alice.status(upload["upload_id"])).json()
    assert status["upload_status"] == "aborted" and status["parts_received"] == []
    r = await alice.presign(upload, [2])
    assert r.status_code == 409 and r.json()["error_code"] == "upload_aborted"
    r = await alice.complete(upload, {1: '"x"'})
    assert r.status_code == 409 and r.json()["error_code"] == "upload_aborted"
    assert (await alice.abort(upload)).status_code == 200  # idempotent
    assert stored_bytes(alice.h, upload["file_key"]) is None


@SQLITE
async def test_resume_presigns_only_the_missing_parts(alice: Uploader) -> None:
    data = payload(SIZE)
    upload = await alice.initiate(SIZE)
    etags = await alice.send(upload, data, [3, 1])
    status = (await alice.status(upload["upload_id"])).json()
    assert status["upload_status"] == "open"
    assert (status["file_size"], status["part_size"], status["part_count"]) == (SIZE, PART, 3)
    received = status["parts_received"]
    assert [(p["part_number"], p["size"]) for p in received] == [(1, PART), (3, 2 * MIB)]
    assert {p["part_number"]: p["etag"].strip('"') for p in received} == {
        n: e.strip('"') for n, e in etags.items()
    }
    missing = [n for n in range(1, 4) if n not in {p["part_number"] for p in received}]
    assert missing == [2]
    etags.update(await alice.send(upload, data, missing))
    r = await alice.complete(upload, etags)
    assert r.status_code == 200, r.text
    assert stored_bytes(alice.h, upload["file_key"]) == data


@SQLITE
async def test_an_expired_part_url_can_be_presigned_again(alice: Uploader) -> None:
    data = payload(SIZE)
    upload = await alice.initiate(SIZE)
    signer = alice.h.app.state.services.storage.signer
    real = signer.clock
    signer.clock = lambda: real() - 3600  # URLs signed now look an hour old
    try:
        old = (await alice.presign(upload, [1])).json()["parts"][0]
    finally:
        signer.clock = real
    r = await alice.put(old["upload_url"], data[:PART], old["upload_headers"])
    assert r.status_code == 403, r.text
    etags = await alice.send(upload, data, [1, 2, 3])
    assert (await alice.complete(upload, etags)).status_code == 200


@SQLITE
@LOCAL
async def test_limits_and_sizes(alice: Uploader, harness: Harness) -> None:
    limit = harness.settings.limits.multipart_max
    r = await alice.post("initiate", {"file_name": "huge.bin", "file_size": limit + 1})
    assert r.status_code == 413 and r.json()["error_code"] == "file_too_large"
    r = await alice.post("initiate", {"file_name": "empty.bin", "file_size": 0})
    assert r.status_code == 422
    one = await alice.initiate(1, "one.txt", "text/plain")
    assert (one["part_size"], one["part_count"]) == (PART, 1)
    assert (await alice.presign(one, [1])).json()["parts"][0]["upload_headers"] == {
        "Content-Length": "1"
    }
    assert (await alice.upload(b"x", "tiny.txt")).endswith("/tiny.txt")
    # 5 MiB parts would need more than S3's 10,000: the part size grows instead.
    biggest = await alice.initiate(limit)
    assert biggest["part_count"] <= 10_000
    assert biggest["part_size"] * biggest["part_count"] >= limit
    assert biggest["part_size"] * (biggest["part_count"] - 1) < limit
    r = await alice.presign(one, [0, 2])
    assert r.status_code == 422 and r.json()["error_code"] == "invalid_part_numbers"


@SQLITE
@LOCAL
async def test_open_upload_limit_and_shared_daily_quota(
    alice: Uploader,
    harness: Harness,
) -> None:
    limits = harness.settings.limits
    limits.open_uploads_per_team = 2
    first = await alice.initiate(SIZE)
    await alice.initiate(SIZE)
    r = await alice.post("initiate", {"file_name": "c.bin", "file_size": SIZE})
    assert r.status_code == 429 and r.json()["error_code"] == "too_many_open_uploads"
    await alice.abort(first)
    limits.open_uploads_per_team = 100
    # 24 MiB declared so far (the aborted upload counts: it was presigned).
    limits.bytes_presigned_per_day = 40 * MIB
    await alice.single(payload(10 * MIB), "single.bin")
    r = await alice.post("initiate", {"file_name": "d.bin", "file_size": 7 * MIB})
    assert r.status_code == 429 and r.json()["error_code"] == "upload_quota_exceeded"
    assert (
        await alice.post("initiate", {"file_name": "e.bin", "file_size": 6 * MIB})
    ).status_code == 200


@SQLITE
@LOCAL
async def test_other_teams_and_wrong_keys_look_unknown(
    alice: Uploader,
    harness: Harness,
    team_b: Team,
) -> None:
    upload = await alice.initiate(SIZE)
    etags = await alice.send(upload, payload(SIZE), [1])
    bob = Uploader(harness, team_b, alice.http)
    for r in (
        await bob.presign(upload, [1]),
        await bob.complete(upload, etags),
        await bob.abort(upload),
        await bob.status(upload["upload_id"]),
    ):
        assert r.status_code == 404 and r.json()["error_code"] == "upload_not_found", r.text
    other = await alice.initiate(SIZE, "other.bin")
    crossed = {**upload, "file_key": other["file_key"]}
    for r in (
        await alice.presign(crossed, [1]),
        await alice.complete(crossed, etags),
        await alice.abort(crossed),
    ):
        assert r.status_code == 404 and r.json()["error_code"] == "upload_not_found", r.text
    assert (await alice.status("0190a6f2-0000-7000-8000-000000000000")).status_code == 404
    assert (await alice.status(upload["upload_id"])).json()["upload_status"] == "open"
