"""Models on agents: a declared model is fetched once, sha256-verified, reused, and evicted
least-recently-used beyond the disk budget."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from comfyui_helpers import Standin, make_ctx, workflow

from runyard_agent.runtimes.base import TaskFailedError
from runyard_agent.runtimes.comfyui import ComfyUIRuntime
from runyard_agent.runtimes.comfyui.models import ModelCache

A_MODEL = b"weights-a" * 1000
B_MODEL = b"weights-b" * 1000


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "a.safetensors").write_bytes(A_MODEL)
    (served / "b.safetensors").write_bytes(B_MODEL)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def wrapped(name: str, data: bytes, url: str, *, sha256: str | None = None) -> dict[str, Any]:
    return {
        "graph": {
            "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}},
            "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
        },
        "models": [
            {
                "folder": "checkpoints",
                "file_name": name,
                "sha256": sha256 or hashlib.sha256(data).hexdigest(),
                "url": f"{url}/{name}",
            }
        ],
    }


def runtime_for(standin: Standin, budget: int) -> tuple[ComfyUIRuntime, ModelCache]:
    cache = ModelCache(standin.data_dir / "models", budget, allow_http=True)
    runtime = ComfyUIRuntime(
        standin.url, http_timeout=10, files_dir=standin.data_dir, model_cache=cache
    )
    return runtime, cache


async def test_a_declared_model_is_fetched_once_verified_and_reused(
    standin: Standin, model_server: str, tmp_path: Path
) -> None:
    runtime, cache = runtime_for(standin, 10**6)
    try:
        for run in range(2):
            ctx, recorder = make_ctx(tmp_path / str(run))
            await runtime.run(workflow(wrapped("a.safetensors", A_MODEL, model_server)), ctx)
            assert ctx.values == {"2.text.0": "<MODEL a.safetensors>"}
            messages = [r.message or "" for r in recorder.reports]
            assert any(
                m.startswith("fetched model checkpoints/a.safetensors") for m in messages
            ) is (run == 0)
        assert cache.fetches == 1
        stored = standin.data_dir / "models" / "checkpoints" / "a.safetensors"
        assert stored.read_bytes() == A_MODEL
        # The agent's report for pre-flight names it, with the sha256 it verified.
        info = (await runtime.health()).system_info
        assert "a.safetensors" in info["models"]["checkpoints"]
        assert info["model_sha256"] == {
            "checkpoints/a.safetensors": hashlib.sha256(A_MODEL).hexdigest()
        }
    finally:
        await runtime.close()


async def test_a_model_that_does_not_match_its_sha256_is_refused(
    standin: Standin, model_server: str, tmp_path: Path
) -> None:
    runtime, _ = runtime_for(standin, 10**6)
    try:
        ctx, _ = make_ctx(tmp_path)
        bad = wrapped("a.safetensors", A_MODEL, model_server, sha256="0" * 64)
        with pytest.raises(TaskFailedError) as caught:
            await runtime.run(workflow(bad), ctx)
        assert caught.value.code == "comfyui_model_unavailable"
        assert "does not match its sha256" in str(caught.value)
        assert list((standin.data_dir / "models" / "checkpoints").iterdir()) == []
    finally:
        await runtime.close()


async def test_least_recently_used_models_leave_beyond_the_budget(
    standin: Standin, model_server: str, tmp_path: Path
) -> None:
    # Room for one of the two: fetching b removes a (fetched by the cache, not needed now).
    runtime, cache = runtime_for(standin, len(A_MODEL) + len(B_MODEL) - 1)
    checkpoints = standin.data_dir / "models" / "checkpoints"
    (checkpoints / "mine.safetensors").write_bytes(b"x" * 50_000)  # not the cache's: kept
    try:
        await runtime.run(
            workflow(wrapped("a.safetensors", A_MODEL, model_server)), make_ctx(tmp_path / "a")[0]
        )
        await runtime.run(
            workflow(wrapped("b.safetensors", B_MODEL, model_server)), make_ctx(tmp_path / "b")[0]
        )
        assert sorted(p.name for p in checkpoints.iterdir()) == [
            "b.safetensors",
            "mine.safetensors",
        ]
        assert cache.fetches == 2
    finally:
        await runtime.close()
