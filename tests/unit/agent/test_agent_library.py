"""The team's model library on an agent (``ModelLibrary``), against a store behind
``httpx.MockTransport`` that honours ``Range``: placing, resuming a partial download, dropping bytes
that do not match their sha256, removing only the files the sync placed, a full disk."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest

from runyard_agent.runtimes.comfyui.library import ModelLibrary
from runyard_protocol import LibrarySync, SyncedModel

A = b"lora-a-weights" * 5000
B = b"checkpoint-b" * 7000


class Store:
    """Serves ``/<name>`` with Range support and records what was asked."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.ranges: list[str | None] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        data = self.objects[request.url.path.lstrip("/")]
        asked = request.headers.get("range")
        self.ranges.append(asked)
        if asked:
            start = int(asked.removeprefix("bytes=").split("-")[0])
            return httpx.Response(
                206,
                content=data[start:],
                headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
            )
        return httpx.Response(200, content=data)


def model(
    name: str, data: bytes, model_type: str = "loras", path: str | None = None
) -> SyncedModel:
    return SyncedModel(
        model_id=f"id-{name}",
        model_type=model_type,
        model_path=path or f"{name}.safetensors",
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        download_url=f"http://store.test/{name}",
    )


def library(tmp_path: Path, store: Store, **kw: object) -> ModelLibrary:
    http = httpx.AsyncClient(transport=httpx.MockTransport(store.handler))
    return ModelLibrary(tmp_path / "comfy" / "models", 10**9, http=http, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store() -> Store:
    return Store({"a": A, "b": B})


async def test_the_set_is_placed_and_reported(tmp_path: Path, store: Store) -> None:
    lib = library(tmp_path, store)
    await lib.sync([model("a", A, path="detail/a.safetensors"), model("b", B, "checkpoints")])
    models = tmp_path / "comfy" / "models"
    assert (models / "loras" / "detail" / "a.safetensors").read_bytes() == A
    assert (models / "checkpoints" / "b.safetensors").read_bytes() == B
    report = lib.report()
    assert report["sync_phase"] == "idle" and report["sync_percent"] == 100.0
    assert report["model_ids"] == ["id-a", "id-b"]
    assert report["models"] == {"checkpoints": ["b.safetensors"], "loras": ["detail/a.safetensors"]}
    # A second pass with the same set fetches nothing.
    fetched = lib.downloaded
    await lib.sync([model("a", A, path="detail/a.safetensors"), model("b", B, "checkpoints")])
    assert lib.downloaded == fetched == len(A) + len(B)


async def test_a_partial_download_is_resumed_with_range(tmp_path: Path, store: Store) -> None:
    lib = library(tmp_path, store)
    wanted = model("a", A)
    lib.blobs.mkdir(parents=True)
    half = len(A) // 2
    (lib.blobs / f"{wanted.sha256}.part").write_bytes(A[:half])  # left by a killed agent
    await lib.sync([wanted])
    assert store.ranges == [f"bytes={half}-"]
    assert lib.downloaded == len(A) - half  # the bytes on disk were not fetched again
    assert (tmp_path / "comfy" / "models" / "loras" / "a.safetensors").read_bytes() == A
    assert not (lib.blobs / f"{wanted.sha256}.part").exists()


async def test_bytes_that_do_not_match_the_sha256_are_dropped(tmp_path: Path, store: Store) -> None:
    lib = library(tmp_path, store)
    store.objects["a"] = A[:-1] + b"X"  # the store hands out other bytes
    await lib.sync([model("a", A)])
    assert lib.phase == "failed"
    assert "do not match its sha256" in lib.detail
    assert not (tmp_path / "comfy" / "models" / "loras" / "a.safetensors").exists()
    assert list(lib.blobs.iterdir()) == []  # no partial file kept
    assert lib.report()["model_ids"] == []


async def test_only_files_the_sync_placed_are_removed(tmp_path: Path, store: Store) -> None:
    lib = library(tmp_path, store)
    loras = tmp_path / "comfy" / "models" / "loras"
    loras.mkdir(parents=True)
    (loras / "mine.safetensors").write_bytes(b"put here by hand")
    await lib.sync([model("a", A), model("b", B)])
    # Someone replaces b by a file of their own: it is theirs now.
    (loras / "b.safetensors").unlink()
    (loras / "b.safetensors").write_bytes(b"my own b")
    await lib.sync([])  # a and b left the set (disabled, deleted)
    assert not (loras / "a.safetensors").exists()
    assert (loras / "b.safetensors").read_bytes() == b"my own b"
    assert (loras / "mine.safetensors").read_bytes() == b"put here by hand"
    assert lib.report()["model_ids"] == [] and lib.phase == "idle"


async def test_a_different_file_at_the_place_is_left_alone(tmp_path: Path, store: Store) -> None:
    lib = library(tmp_path, store)
    loras = tmp_path / "comfy" / "models" / "loras"
    loras.mkdir(parents=True)
    (loras / "a.safetensors").write_bytes(b"another a")
    await lib.sync([model("a", A)])
    assert (loras / "a.safetensors").read_bytes() == b"another a"
    assert lib.phase == "failed" and "a different file is already there" in lib.detail


async def test_a_full_disk_makes_the_agent_unhealthy_and_leaves_nothing(
    tmp_path: Path, store: Store
) -> None:
    lib = library(tmp_path, store, free_bytes=lambda _path: 1000)
    await lib.sync([model("a", A)])
    assert not lib.healthy and lib.phase == "failed"
    assert "not enough disk" in lib.detail
    assert not (tmp_path / "comfy" / "models" / "loras").exists()
    assert list(lib.blobs.iterdir()) == []
    assert store.ranges == []  # nothing was fetched
    # Once there is room again, the next sync places it and the agent is healthy again.
    lib._free_bytes = lambda _path: 10**12
    await lib.sync([model("a", A)])
    assert lib.healthy and lib.phase == "idle"


async def test_a_failed_sync_is_tried_again_until_it_succeeds(tmp_path: Path, store: Store) -> None:
    free = [1000]
    lib = library(tmp_path, store, free_bytes=lambda _path: free[0], retry_after=0.01)
    lib.apply(LibrarySync(models=[model("a", A)]))
    for _ in range(500):
        if lib.phase == "failed":
            break
        await asyncio.sleep(0.01)
    assert not lib.healthy and "not enough disk" in lib.detail
    free[0] = 10**12  # the operator made room
    await lib.wait()
    assert lib.healthy and lib.phase == "idle"
    assert (tmp_path / "comfy" / "models" / "loras" / "a.safetensors").read_bytes() == A
