"""Both backends keep S3's observable contract for presigned PUT and GET URLs."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from storage_backends import Backend

BODY = os.urandom(3000) + b"end"


def put(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.put(url, content=body, headers=headers, timeout=30)


async def test_put_with_exactly_the_signed_headers_stores_the_object(backend: Backend) -> None:
    signed = backend.storage.presign_put("inputs/t/u/photo.png", len(BODY), expires_in=300)
    assert signed.headers == {"Content-Length": str(len(BODY)), "If-None-Match": "*"}

    response = put(signed.url, BODY, signed.headers)

    assert response.status_code == 200, response.text
    assert response.headers["etag"]
    info = await backend.storage.head("inputs/t/u/photo.png")
    assert info is not None and info.size == len(BODY)


async def test_the_seeds_requests_call_works_unchanged(backend: Backend, tmp_path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(BODY)
    signed = backend.storage.presign_put("inputs/t/u/photo.png", len(BODY), expires_in=300)
    upload_headers = dict(signed.headers)

    with open(photo, "rb") as f:
        response = requests.put(signed.url, data=f, headers=upload_headers, timeout=30)

    assert response.status_code == 200, response.text
    assert (await backend.storage.head("inputs/t/u/photo.png")).size == len(BODY)  # type: ignore[union-attr]


def test_get_serves_the_object_with_range_and_the_signed_headers(backend: Backend) -> None:
    key = "outputs/t/task/1/0-résumé.txt"
    signed = backend.storage.presign_put(key, len(BODY), expires_in=300)
    assert put(signed.url, BODY, signed.headers).status_code == 200
    url = backend.storage.presign_get(
        key, expires_in=300, file_name="résumé 1.txt", content_type="text/plain"
    )

    whole = httpx.get(url, timeout=30)
    part = httpx.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    tail = httpx.get(url, headers={"Range": "bytes=-3"}, timeout=30)
    beyond = httpx.get(url, headers={"Range": f"bytes={len(BODY) + 5}-"}, timeout=30)

    assert whole.status_code == 200 and whole.content == BODY
    assert whole.headers["content-type"].startswith("text/plain")
    assert whole.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%201.txt"
    )
    assert part.status_code == 206 and part.content == BODY[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(BODY)}"
    assert tail.status_code == 206 and tail.content == b"end"
    assert beyond.status_code == 416


def test_second_put_is_refused_with_412_and_keeps_the_first(backend: Backend) -> None:
    key = "inputs/t/u/a.bin"
    first = backend.storage.presign_put(key, len(BODY), expires_in=300)
    other = bytes(reversed(BODY))
    second = backend.storage.presign_put(key, len(other), expires_in=300)

    assert put(first.url, BODY, first.headers).status_code == 200
    again = put(second.url, other, second.headers)

    assert again.status_code == 412
    url = backend.storage.presign_get(key, expires_in=60, file_name="a.bin", content_type="x/y")
    assert httpx.get(url).content == BODY


@pytest.mark.parametrize("size", [1024, 2 * 1024 * 1024], ids=["small", "streamed"])
def test_two_racing_puts_give_one_200_and_one_412(backend: Backend, size: int) -> None:
    key = f"inputs/t/u/race-{size}.bin"
    body = os.urandom(size)
    signed = backend.storage.presign_put(key, len(body), expires_in=300)
    barrier, statuses = threading.Barrier(2), []

    def racer() -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            response = client.put(signed.url, content=body, headers=signed.headers)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(statuses) == [200, 412]


@pytest.mark.parametrize(
    ("case", "headers", "body"),
    [
        ("no If-None-Match", {}, BODY),
        ("other If-None-Match", {"If-None-Match": '"abc"'}, BODY),
        ("longer Content-Length", {"If-None-Match": "*"}, BODY + b"x"),
        ("shorter Content-Length", {"If-None-Match": "*"}, BODY[:-1]),
    ],
)
async def test_put_without_the_signed_headers_is_refused_with_403(
    backend: Backend, case: str, headers: dict[str, str], body: bytes
) -> None:
    key = "inputs/t/u/b.bin"
    signed = backend.storage.presign_put(key, len(BODY), expires_in=300)

    response = put(signed.url, body, headers)  # httpx sends the body's real Content-Length

    assert response.status_code == 403, case
    assert await backend.storage.head(key) is None


async def test_a_truncated_body_never_becomes_an_object(backend: Backend) -> None:
    key = "inputs/t/u/cut.bin"
    signed = backend.storage.presign_put(key, len(BODY), expires_in=300)
    url = urlsplit(signed.url)
    request = (
        f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Content-Length: {len(BODY)}\r\nIf-None-Match: *\r\n\r\n"
    ).encode() + BODY[:-100]
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            sock.recv(4096)

    assert await backend.storage.head(key) is None
    assert put(signed.url, BODY, signed.headers).status_code == 200  # the key is still free


async def test_an_expired_url_is_refused_with_403(backend: Backend) -> None:
    stored = backend.storage.presign_put("inputs/t/u/here.bin", len(BODY), expires_in=60)
    assert put(stored.url, BODY, stored.headers).status_code == 200
    with backend.signing_in_the_past(3600):
        old_put = backend.storage.presign_put("inputs/t/u/old.bin", len(BODY), expires_in=60)
        old_get = backend.storage.presign_get(
            "inputs/t/u/here.bin", expires_in=60, file_name="x", content_type="a/b"
        )

    assert put(old_put.url, BODY, old_put.headers).status_code == 403
    assert httpx.get(old_get).status_code == 403
    assert await backend.storage.head("inputs/t/u/old.bin") is None


@pytest.mark.parametrize("part", ["signature", "key", "expiry"])
async def test_a_tampered_url_is_refused_with_403(backend: Backend, part: str) -> None:
    signed = backend.storage.presign_put("inputs/t/u/c.bin", len(BODY), expires_in=300)
    url = signed.url
    if part == "signature":
        flipped = "0" if url[-1] != "0" else "1"
        url = url[:-1] + flipped
    elif part == "key":
        url = url.replace("/c.bin?", "/d.bin?")
    else:
        url = url.replace("Expires=", "Expires=9")

    assert put(url, BODY, signed.headers).status_code == 403
    assert await backend.storage.head("inputs/t/u/c.bin") is None
    assert await backend.storage.head("inputs/t/u/d.bin") is None


async def test_delete_and_delete_prefix(backend: Backend) -> None:
    keys = ["outputs/t/k1/1/0-a", "outputs/t/k1/1/1-b", "outputs/t/k10/1/0-c", "inputs/t/u/d"]
    for key in keys:
        signed = backend.storage.presign_put(key, 1, expires_in=60)
        assert put(signed.url, b"x", signed.headers).status_code == 200

    assert await backend.storage.delete_prefix("outputs/t/k1/") == 2
    await backend.storage.delete("inputs/t/u/d")
    await backend.storage.delete("inputs/t/u/never-there")

    assert [await backend.storage.head(k) is not None for k in keys] == [False, False, True, False]
    with pytest.raises(ValueError):
        await backend.storage.delete_prefix("")
    await backend.storage.check()
