"""sha256 on input uploads, through the API, on both stores: the seed's presign and multipart
take an optional ``sha256``; the store refuses other bytes and keeps nothing; the same bytes
presigned again answer ``already_uploaded`` (one upload, not two); without ``sha256`` the answer
is exactly the seed's."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from uploads_helpers import PART, Uploader, payload, stored_bytes

from runyard.models import StoredFile
from runyard.storage.base import checksum_header
from tests.support.app import Harness, Team


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def presign(h: Harness, team: Team, body: dict[str, Any]) -> httpx.Response:
    return await h.client.post(
        "/api/v1/r/files/presign", headers=team.auth("integration"), json=body
    )


def described(data: bytes, **extra: Any) -> dict[str, Any]:
    return {"file_name": "photo.png", "file_size": len(data), "content_type": "image/png", **extra}


async def test_without_sha256_the_answer_is_the_seeds(alice: Uploader, harness: Harness) -> None:
    r = await presign(harness, alice.team, described(b"12345"))
    assert r.status_code == 200
    assert set(r.json()) == {"file_key", "upload_url", "upload_headers", "expires_at"}
    assert r.json()["upload_headers"] == {"Content-Length": "5", "If-None-Match": "*"}


async def test_the_same_bytes_are_uploaded_once(alice: Uploader, harness: Harness) -> None:
    data = payload(4000)
    first = await presign(harness, alice.team, described(data, sha256="sha256:" + sha(data)))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["already_uploaded"] is False
    assert body["upload_headers"]["x-amz-checksum-sha256"] == checksum_header(sha(data))
    assert (await alice.put(body["upload_url"], data, body["upload_headers"])).status_code == 200

    again = await presign(harness, alice.team, described(data, sha256=sha(data).upper()))

    assert again.status_code == 200, again.text
    assert again.json()["already_uploaded"] is True
    assert again.json()["file_key"] == body["file_key"]
    assert "upload_url" not in again.json()
    assert (await alice.run_echo(again.json()["file_key"])).status_code == 202
    # another size, or another team, gets its own upload
    other_size = await presign(
        harness, alice.team, {**described(data, sha256=sha(data)), "file_size": len(data) + 1}
    )
    assert other_size.json()["already_uploaded"] is False


async def test_a_pending_upload_of_the_same_bytes_is_not_reused_until_stored(
    alice: Uploader, harness: Harness, team_b: Team
) -> None:
    data = payload(100, seed=3)
    first = await presign(harness, alice.team, described(data, sha256=sha(data)))
    second = await presign(harness, alice.team, described(data, sha256=sha(data)))
    assert second.json()["already_uploaded"] is False  # nothing stored yet
    assert second.json()["file_key"] != first.json()["file_key"]
    put = await alice.put(first.json()["upload_url"], data, first.json()["upload_headers"])
    assert put.status_code == 200

    third = await presign(harness, alice.team, described(data, sha256=sha(data)))
    elsewhere = await presign(harness, team_b, described(data, sha256=sha(data)))

    assert third.json() == {**third.json(), "already_uploaded": True}
    assert third.json()["file_key"] == first.json()["file_key"]
    assert elsewhere.json()["already_uploaded"] is False  # never another team's file


async def test_other_bytes_are_refused_and_nothing_kept(alice: Uploader, harness: Harness) -> None:
    data = payload(2000, seed=5)
    r = await presign(harness, alice.team, described(data, sha256=sha(data)))
    body = r.json()

    put = await alice.put(body["upload_url"], bytes(reversed(data)), body["upload_headers"])

    assert put.status_code == 400
    if harness.app.state.services.storage.backend == "local":
        assert put.json()["error_code"] == "checksum_mismatch"
    assert stored_bytes(harness, body["file_key"]) is None
    run = await alice.run_echo(body["file_key"])
    assert run.status_code == 422  # never uploaded


async def test_a_malformed_sha256_is_422(alice: Uploader, harness: Harness) -> None:
    for bad in ("abc", "g" * 64, "sha1:" + "0" * 64, 12):
        r = await presign(harness, alice.team, described(b"x", sha256=bad))
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error_code"] == "invalid_request"


async def test_multipart_with_the_right_sha256(alice: Uploader, harness: Harness) -> None:
    data = payload(PART + 1000, seed=11)
    r = await alice.post(
        "initiate",
        {"file_name": "big.bin", "file_size": len(data), "sha256": sha(data)},
    )
    assert r.status_code == 200, r.text
    upload = r.json()
    etags = await alice.send(upload, data, [1, 2])

    done = await alice.complete(upload, etags)

    assert done.status_code == 200, done.text
    async with harness.app.state.services.db.session() as session:
        row = await session.get(StoredFile, upload["upload_id"])
        assert row is not None and row.sha256 == sha(data)
    again = await presign(
        harness, alice.team, {**described(data, sha256=sha(data)), "file_size": len(data)}
    )
    assert again.json()["already_uploaded"] is True
    assert again.json()["file_key"] == upload["file_key"]


async def test_multipart_with_another_sha256_keeps_nothing(
    alice: Uploader, harness: Harness
) -> None:
    data = payload(PART + 1000, seed=12)
    r = await alice.post(
        "initiate",
        {"file_name": "big.bin", "file_size": len(data), "sha256": sha(b"something else")},
    )
    upload = r.json()
    etags = await alice.send(upload, data, [1, 2])

    done = await alice.complete(upload, etags)

    assert done.status_code == 400, done.text
    assert done.json()["error_code"] == "checksum_mismatch"
    assert stored_bytes(harness, upload["file_key"]) is None
    status = await alice.status(upload["upload_id"])
    assert status.json()["upload_status"] == "aborted"
    assert (await alice.run_echo(upload["file_key"])).status_code == 422
