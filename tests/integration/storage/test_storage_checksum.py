"""A sha256 signed into a presigned PUT (``x-amz-checksum-sha256``): both stores refuse other
bytes and keep nothing. ministack 1.5.33 enforces it like S3 (400 ``BadDigest``); the embedded
store hashes while it writes (400 ``checksum_mismatch``). The multipart path reads the
assembled object back (``Storage.sha256``)."""

from __future__ import annotations

import hashlib
import os

import httpx
from storage_backends import Backend

from runyard.storage.base import CHECKSUM_HEADER, checksum_header

SMALL = os.urandom(3000)
LARGE = os.urandom(3 * 1024 * 1024 + 7)  # above the embedded store's in-memory path


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def put(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.put(url, content=body, headers=headers, timeout=60)


async def test_the_right_bytes_are_stored_and_the_header_is_signed(backend: Backend) -> None:
    for key, body in (("inputs/t/u/small.bin", SMALL), ("inputs/t/u/large.bin", LARGE)):
        signed = backend.storage.presign_put(key, len(body), expires_in=300, sha256=sha(body))
        assert signed.headers[CHECKSUM_HEADER] == checksum_header(sha(body))
        assert CHECKSUM_HEADER in signed.url.lower() or backend.kind == "local"

        response = put(signed.url, body, signed.headers)

        assert response.status_code == 200, response.text
        assert await backend.storage.sha256(key) == sha(body)


async def test_other_bytes_of_the_same_length_are_refused_and_nothing_kept(
    backend: Backend,
) -> None:
    for key, body in (("inputs/t/u/small.bin", SMALL), ("inputs/t/u/large.bin", LARGE)):
        signed = backend.storage.presign_put(key, len(body), expires_in=300, sha256=sha(body))
        other = bytes(reversed(body))

        response = put(signed.url, other, signed.headers)

        assert response.status_code == 400, response.text
        if backend.kind == "local":
            assert response.json()["error_code"] == "checksum_mismatch"
        else:
            assert "BadDigest" in response.text
        assert await backend.storage.head(key) is None
        # the same URL still takes the right bytes afterwards
        assert put(signed.url, body, signed.headers).status_code == 200


async def test_the_checksum_header_is_part_of_the_signature(backend: Backend) -> None:
    key = "inputs/t/u/photo.png"
    signed = backend.storage.presign_put(key, len(SMALL), expires_in=300, sha256=sha(SMALL))
    without = {k: v for k, v in signed.headers.items() if k != CHECKSUM_HEADER}
    other = bytes(reversed(SMALL))
    forged = {**signed.headers, CHECKSUM_HEADER: checksum_header(sha(other))}

    assert put(signed.url, SMALL, without).status_code == 403
    assert put(signed.url, other, forged).status_code == 403
    assert await backend.storage.head(key) is None


async def test_sha256_of_a_missing_object_is_none(backend: Backend) -> None:
    assert await backend.storage.sha256("inputs/t/u/none.bin") is None
