"""``Task.download``: streamed to files named by the outputs, never outside the directory."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard_client import ChecksumMismatch, RunyardError, TaskFailed, TransportError
from tests.unit.client.client_mocks import ChunkStream, make_async_client, make_client

STORE = "http://store.test/outputs"


def result(
    status: str = "completed", outputs: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    outs = (
        outputs
        if outputs is not None
        else [
            {
                "output_id": "9.images.0",
                "file_name": "out.png",
                "content_type": "image/png",
                "file_size": 6,
            },
            {
                "output_id": "9.images.1",
                "file_name": "out.png",
                "content_type": "image/png",
                "file_size": 4,
            },
            {
                "output_id": "log",
                "file_name": "../../etc/evil.txt",
                "content_type": "text/plain",
                "file_size": 3,
            },
        ]
    )
    done = status == "completed"
    return {
        "id": "t-1",
        "task_status": status,
        "task_output": {"outputs": outs} if done else None,
        "download_urls": {o["output_id"]: f"{STORE}/{i}?sig=s" for i, o in enumerate(outs)}
        if done
        else None,
        "download_url": None,
        "expires_at": None,
        "task_error": "",
        "task_error_code": None,
        "completed_at": None,
        **extra,
    }


BODIES = {"0": [b"abc", b"def"], "1": [b"ghij"], "2": [b"xyz"]}


def store(
    seen: list[httpx.Request],
    body: dict[str, Any] | None = None,
    bodies: dict[str, list[bytes]] | None = None,
) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "store.test":
            seen.append(request)
            return httpx.Response(
                200, stream=ChunkStream((bodies or BODIES)[request.url.path.rsplit("/", 1)[1]])
            )
        return httpx.Response(200, json=body or result())

    return handler


def test_download_streams_each_output_in_order(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    with make_client(store(seen)) as client:
        paths = client.task("t-1").download(tmp_path / "out")
    assert [p.name for p in paths] == ["out.png", "out-2.png", "evil.txt"]
    assert all(p.parent == tmp_path / "out" for p in paths)
    assert [p.read_bytes() for p in paths] == [b"abcdef", b"ghij", b"xyz"]
    assert all("Authorization" not in r.headers for r in seen)
    assert not list((tmp_path / "out").glob("*.part"))


def test_a_short_download_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    short = {"0": [b"abc"], "1": [b"ghij"], "2": [b"xyz"]}
    with make_client(store([], bodies=short)) as client, pytest.raises(TransportError):
        client.task("t-1").download(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unfinished_and_failed_tasks_are_refused(tmp_path: Path) -> None:
    with (
        make_client(store([], result("running"))) as client,
        pytest.raises(RunyardError, match="wait"),
    ):
        client.task("t-1").download(tmp_path)
    failed = result("failed", task_error="boom", task_error_code="timed_out")
    with make_client(store([], failed)) as client, pytest.raises(TaskFailed, match="boom"):
        client.task("t-1").download(tmp_path)


async def test_async_download(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    async with make_async_client(store(seen)) as client:
        paths = await client.task("t-1").download(tmp_path)
    assert [p.read_bytes() for p in paths] == [b"abcdef", b"ghij", b"xyz"]
    assert len(seen) == 3


def with_sha256(first: bytes) -> dict[str, Any]:
    """The default result with the first output's sha256 given as that of ``first``."""
    body = result()
    body["task_output"]["outputs"][0]["sha256"] = hashlib.sha256(first).hexdigest()
    return body


def test_a_download_with_the_reported_sha256_is_kept(tmp_path: Path) -> None:
    with make_client(store([], with_sha256(b"abcdef"))) as client:
        paths = client.task("t-1").download(tmp_path)
    assert paths[0].read_bytes() == b"abcdef"


def test_a_download_with_another_sha256_is_refused_and_not_kept(tmp_path: Path) -> None:
    with (
        make_client(store([], with_sha256(b"abcdeX"))) as client,
        pytest.raises(ChecksumMismatch, match="out.png"),
    ):
        client.task("t-1").download(tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_async_download_checks_the_sha256(tmp_path: Path) -> None:
    async with make_async_client(store([], with_sha256(b"abcdeX"))) as client:
        with pytest.raises(ChecksumMismatch):
            await client.task("t-1").download(tmp_path)
    assert list(tmp_path.iterdir()) == []
