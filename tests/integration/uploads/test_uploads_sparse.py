"""A multi-gigabyte multipart upload on the embedded store, streamed from a sparse file.

It runs in every test run (it is the multipart issue's "done when"): it writes ~6 GiB to disk
(3 parts, then the assembled file) and takes tens of seconds; the 12 MiB tests cover the logic."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from uploads_helpers import MIB, Uploader

GIB = 1024 * MIB


async def _read(path: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        while length:
            chunk = f.read(min(length, 4 * MIB))
            length -= len(chunk)
            yield chunk


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("backend", ["local"], indirect=True)
async def test_three_gib_upload_from_a_sparse_file(alice: Uploader, tmp_path: Path) -> None:
    alice.h.settings.limits.part_size = GIB
    source = tmp_path / "sparse.bin"
    size = 3 * GIB
    with open(source, "wb") as f:
        f.write(b"head")
    os.truncate(source, size - 4)
    with open(source, "ab") as f:
        f.write(b"tail")
    upload = await alice.initiate(size)
    assert (upload["part_size"], upload["part_count"]) == (GIB, 3)
    parts = (await alice.presign(upload, [1, 2, 3])).json()["parts"]
    etags = {}
    for part in parts:
        n = part["part_number"]
        r = await alice.h.client.put(
            part["upload_url"],
            headers=part["upload_headers"],
            content=_read(source, (n - 1) * GIB, GIB),
        )
        assert r.status_code == 200, r.text
        etags[n] = r.headers["etag"]
    r = await alice.complete(upload, etags)
    assert r.status_code == 200 and r.json()["file_size"] == size, r.text
    stored = alice.h.app.state.services.storage.path_of(upload["file_key"])
    assert stored.stat().st_size == size
    with open(stored, "rb") as f:
        assert f.read(4) == b"head"
        f.seek(size - 4)
        assert f.read() == b"tail"
    stored.unlink()
