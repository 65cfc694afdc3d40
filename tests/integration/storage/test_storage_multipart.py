"""Multipart uploads through presigned part URLs, on both backends."""

from __future__ import annotations

import os

import httpx
import pytest
from storage_backends import Backend

from runyard.storage.base import CompletedPart, InvalidParts, ObjectExists, UploadNotFound

MIB = 1024 * 1024
PART_1 = os.urandom(5 * MIB)  # S3's minimum for every part but the last
PART_2 = os.urandom(1234)


def put_part(backend: Backend, key: str, upload_id: str, number: int, body: bytes) -> str:
    signed = backend.storage.presign_part(key, upload_id, number, len(body), expires_in=300)
    assert signed.headers == {"Content-Length": str(len(body))}
    response = httpx.put(signed.url, content=body, headers=signed.headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def test_upload_list_complete_and_read_back(backend: Backend) -> None:
    key = "inputs/t/u/big.bin"
    upload_id = await backend.storage.create_multipart(key, "application/octet-stream")

    etag_2 = put_part(backend, key, upload_id, 2, PART_2)  # parts may arrive in any order
    etag_1 = put_part(backend, key, upload_id, 1, PART_1)
    parts = await backend.storage.list_parts(key, upload_id)
    info = await backend.storage.complete_multipart(
        key, upload_id, [CompletedPart(1, etag_1), CompletedPart(2, etag_2)]
    )

    assert [(p.part_number, p.size) for p in parts] == [(1, len(PART_1)), (2, len(PART_2))]
    assert [p.etag.strip('"') for p in parts] == [etag_1.strip('"'), etag_2.strip('"')]
    assert info.size == len(PART_1) + len(PART_2)
    url = backend.storage.presign_get(key, expires_in=60, file_name="big.bin", content_type="a/b")
    assert httpx.get(url, timeout=60).content == PART_1 + PART_2
    tail = httpx.get(url, headers={"Range": f"bytes={len(PART_1) - 2}-"}, timeout=60)
    assert tail.content == PART_1[-2:] + PART_2


async def test_a_part_sent_again_replaces_the_staged_one(backend: Backend) -> None:
    key = "inputs/t/u/again.bin"
    upload_id = await backend.storage.create_multipart(key, "text/plain")
    first = put_part(backend, key, upload_id, 1, b"first version")
    second = put_part(backend, key, upload_id, 1, b"second")

    parts = await backend.storage.list_parts(key, upload_id)

    assert [(p.part_number, p.size) for p in parts] == [(1, 6)]
    assert first != second
    info = await backend.storage.complete_multipart(key, upload_id, [CompletedPart(1, second)])
    assert info.size == 6


async def test_a_part_with_a_wrong_length_is_refused(backend: Backend) -> None:
    key = "inputs/t/u/len.bin"
    upload_id = await backend.storage.create_multipart(key, "text/plain")
    signed = backend.storage.presign_part(key, upload_id, 1, 10, expires_in=300)

    response = httpx.put(signed.url, content=b"x" * 11, timeout=30)

    assert response.status_code == 403
    assert await backend.storage.list_parts(key, upload_id) == []


async def test_complete_refuses_missing_parts_and_wrong_etags(backend: Backend) -> None:
    key = "inputs/t/u/parts.bin"
    upload_id = await backend.storage.create_multipart(key, "text/plain")
    etag = put_part(backend, key, upload_id, 1, b"only part")

    with pytest.raises(InvalidParts):
        await backend.storage.complete_multipart(
            key, upload_id, [CompletedPart(1, etag), CompletedPart(2, etag)]
        )
    with pytest.raises(InvalidParts):
        await backend.storage.complete_multipart(key, upload_id, [CompletedPart(1, '"0bad"')])
    assert await backend.storage.head(key) is None


async def test_complete_over_an_existing_object_raises_object_exists(backend: Backend) -> None:
    key = "inputs/t/u/taken.bin"
    signed = backend.storage.presign_put(key, 5, expires_in=60)
    assert httpx.put(signed.url, content=b"first", headers=signed.headers).status_code == 200
    upload_id = await backend.storage.create_multipart(key, "text/plain")
    etag = put_part(backend, key, upload_id, 1, b"second object")

    with pytest.raises(ObjectExists):
        await backend.storage.complete_multipart(key, upload_id, [CompletedPart(1, etag)])

    url = backend.storage.presign_get(key, expires_in=60, file_name="t", content_type="text/plain")
    assert httpx.get(url).content == b"first"
    await backend.storage.abort_multipart(key, upload_id)


async def test_abort_discards_the_upload(backend: Backend) -> None:
    key = "inputs/t/u/aborted.bin"
    upload_id = await backend.storage.create_multipart(key, "text/plain")
    put_part(backend, key, upload_id, 1, b"abc")

    await backend.storage.abort_multipart(key, upload_id)
    await backend.storage.abort_multipart(key, upload_id)  # twice is not an error

    with pytest.raises(UploadNotFound):
        await backend.storage.list_parts(key, upload_id)
    signed = backend.storage.presign_part(key, upload_id, 2, 3, expires_in=60)
    late = httpx.put(signed.url, content=b"def", headers=signed.headers)
    assert late.status_code == 404
    assert await backend.storage.head(key) is None
