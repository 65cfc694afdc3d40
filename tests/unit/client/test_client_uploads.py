"""Uploads against a scripted server: the single PUT with its exact signed headers, and
multipart (parallel parts, per-part retries, fresh URLs on 403, resume)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard_client import FileTooLarge, UploadError
from tests.unit.client.client_mocks import error, make_async_client, make_client

SESSION = "eyJ.session.token"


class Server:
    """Presign + store, and the multipart endpoints of contract section 4."""

    def __init__(self, part_size: int = 10, fail: dict[int, list[int]] | None = None) -> None:
        self.part_size = part_size
        self.fail = fail or {}  # part number -> statuses to answer before accepting
        self.parts: dict[int, bytes] = {}
        self.single: list[httpx.Request] = []
        self.presigned: list[list[int]] = []
        self.completed: list[dict[str, Any]] = []
        self.size = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.method == "POST" else {}
        if path == "/api/v1/r/files/presign":
            return httpx.Response(
                200,
                json={
                    "file_key": "inputs/t/u/" + body["file_name"],
                    "upload_url": "http://store.test/inputs/t/u/x?sig=1",
                    "upload_headers": {
                        "Content-Length": str(body["file_size"]),
                        "If-None-Match": "*",
                    },
                },
            )
        if request.url.host == "store.test" and "partNumber" not in request.url.params:
            self.single.append(request)
            return httpx.Response(200, headers={"ETag": '"e"'})
        if path.endswith("/initiate"):
            self.size = body["file_size"]
            count = -(-self.size // self.part_size)
            return httpx.Response(
                200,
                json={
                    "upload_id": "up-1",
                    "file_key": "inputs/t/up-1/b",
                    "part_size": self.part_size,
                    "part_count": count,
                },
            )
        if path.endswith("/presign-parts"):
            with self.lock:
                self.presigned.append(body["part_numbers"])
            return httpx.Response(
                200,
                json={
                    "parts": [
                        {
                            "part_number": n,
                            "upload_url": f"http://store.test/p?partNumber={n}&uploadId=b",
                            "upload_headers": {"Content-Length": str(self._len(n))},
                        }
                        for n in body["part_numbers"]
                    ]
                },
            )
        if "partNumber" in request.url.params:
            n = int(request.url.params["partNumber"])
            assert "Authorization" not in request.headers
            with self.lock:
                pending = self.fail.get(n)
                if pending:
                    return error(pending.pop(0), "refused")
                self.parts[n] = request.read()
            assert request.headers["Content-Length"] == str(self._len(n))
            return httpx.Response(200, headers={"ETag": f'"etag-{n}"'})
        if path.endswith("/complete"):
            self.completed.append(body)
            return httpx.Response(200, json={"file_key": body["file_key"], "file_size": self.size})
        if path == "/api/v1/uploads/multipart/up-1":
            return httpx.Response(
                200,
                json={
                    "upload_id": "up-1",
                    "file_key": "inputs/t/up-1/b",
                    "upload_status": "open",
                    "file_size": self.size,
                    "part_size": self.part_size,
                    "part_count": -(-self.size // self.part_size),
                    "parts_received": [
                        {"part_number": n, "size": len(b), "etag": f'"etag-{n}"'}
                        for n, b in self.parts.items()
                    ],
                },
            )
        return error(404, "not_found")

    def _len(self, n: int) -> int:
        return min(self.part_size, self.size - (n - 1) * self.part_size)

    def assembled(self) -> bytes:
        return b"".join(self.parts[n] for n in sorted(self.parts))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256))[:95])
    return path


def test_single_put_sends_exactly_the_signed_headers(data: Path) -> None:
    server = Server()
    with make_client(server) as client:
        key = client.upload(data, "application/x-test")
    (put,) = server.single
    assert key == "inputs/t/u/big.bin"
    assert put.headers["Content-Length"] == "95" and put.headers["If-None-Match"] == "*"
    assert "Authorization" not in put.headers and "Transfer-Encoding" not in put.headers
    assert put.read() == data.read_bytes()


def test_an_existing_object_is_an_upload_error(data: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "store.test":
            return error(412, "object_exists")
        return Server()(request)

    with make_client(handler) as client, pytest.raises(UploadError) as caught:
        client.upload(data)
    assert caught.value.status_code == 412 and caught.value.error_code == "object_exists"


def test_over_the_limit_with_a_key_is_refused_before_any_request(data: Path) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(500, "x")

    with (
        make_client(handler, api_key="dk-device", single_upload_limit=50) as client,
        pytest.raises(FileTooLarge) as caught,
    ):
        client.upload(data)
    assert calls == [] and "session token" in str(caught.value)
    assert caught.value.error_code == "file_too_large"


def test_multipart_uploads_parts_in_parallel_with_retries(data: Path) -> None:
    server = Server(fail={3: [503], 7: [500, 502]})
    progress: list[tuple[int, int]] = []
    with make_client(server, api_key=SESSION, single_upload_limit=50, part_concurrency=4) as client:
        key = client.upload(data, progress=lambda s, t: progress.append((s, t)))
    assert key == "inputs/t/up-1/b" and server.assembled() == data.read_bytes()
    (done,) = server.completed
    assert [p["part_number"] for p in done["parts"]] == list(range(1, 11))
    assert done["parts"][0]["etag"] == '"etag-1"'
    assert progress[-1] == (95, 95) and max(s for s, _ in progress) == 95


def test_an_expired_part_url_is_presigned_again(data: Path) -> None:
    server = Server(fail={2: [403]})
    with make_client(server, api_key=SESSION, single_upload_limit=50) as client:
        client.upload(data)
    assert server.presigned[0] == list(range(1, 11)) and [2] in server.presigned[1:]
    assert server.assembled() == data.read_bytes()


def test_a_failed_part_leaves_a_resumable_upload(data: Path) -> None:
    server = Server(fail={4: [400] * 10})
    with make_client(server, api_key=SESSION, single_upload_limit=50) as client:
        with pytest.raises(UploadError) as caught:
            client.upload(data)
        assert caught.value.upload_id == "up-1" and "resume_upload_id" in str(caught.value)
        assert server.completed == [] and 4 not in server.parts
        server.fail.clear()
        uploaded_before = set(server.parts)
        server.presigned.clear()
        seen: list[int] = []
        key = client.upload(data, progress=lambda s, t: seen.append(s), resume_upload_id="up-1")
    assert key == "inputs/t/up-1/b" and server.assembled() == data.read_bytes()
    resent = {n for batch in server.presigned for n in batch}
    assert resent == set(range(1, 11)) - uploaded_before
    assert seen[0] >= 10 * len(uploaded_before) - 5 and seen[-1] == 95


def test_resume_refuses_a_different_file(data: Path, tmp_path: Path) -> None:
    server = Server()
    server.size = 1000
    with make_client(server, api_key=SESSION) as client, pytest.raises(UploadError):
        client.upload(data, resume_upload_id="up-1")


async def test_async_multipart(data: Path) -> None:
    server = Server(fail={5: [503]})
    async with make_async_client(server, api_key=SESSION, single_upload_limit=50) as client:
        key = await client.upload(data)
    assert key == "inputs/t/up-1/b" and server.assembled() == data.read_bytes()


async def test_async_single_put(data: Path) -> None:
    server = Server()
    async with make_async_client(server) as client:
        assert await client.upload(data) == "inputs/t/u/big.bin"
    assert server.single[0].read() == data.read_bytes()
