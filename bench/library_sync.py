"""P7, the model library sync: ``BENCH_P7_BYTES`` (512 MiB) stored in the embedded store of a
real ``runyard serve``, then fetched to disk through the same presigned GET twice, best of two
runs each (``BENCH_P7_RUNS``, alternated so the page cache favours neither):

- plain: ``httpx`` streaming the answer into a file (what any HTTP GET to disk costs);
- sync: the agent's ``ModelLibrary.sync`` (store -> ``.part``, sha256 while streaming, size and
  hash checked, renamed into the content-addressed cache, hard-linked into ``models/``).

The goal: the sync keeps at least 80 % of the plain GET's MiB/s.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import (
    SECRET,
    Row,
    env_int,
    free_port,
    prepare_database,
    say,
    server_env,
    start_server,
)
from bench.store import MIB, raw_put


def _zeros_sha256(size: int) -> str:
    digest, chunk = hashlib.sha256(), b"\0" * MIB
    for start in range(0, size, MIB):
        digest.update(chunk if size - start >= MIB else chunk[: size - start])
    return digest.hexdigest()


async def _plain(url: str, target: Path) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http, http.stream("GET", url) as answer:
        answer.raise_for_status()
        with target.open("wb") as handle:
            async for chunk in answer.aiter_bytes(MIB):
                handle.write(chunk)
    return time.perf_counter() - started


async def _sync(url: str, size: int, sha256: str, comfy: Path) -> float:
    from runyard_agent.runtimes.comfyui.library import ModelLibrary
    from runyard_protocol import SyncedModel

    shutil.rmtree(comfy, ignore_errors=True)
    library = ModelLibrary(comfy / "models", 10 * size)
    model = SyncedModel(
        model_id="bench",
        model_type="checkpoints",
        model_path="bench.safetensors",
        sha256=sha256,
        size_bytes=size,
        download_url=url,
    )
    started = time.perf_counter()
    await library.sync([model])
    elapsed = time.perf_counter() - started
    assert library.phase == "idle", library.detail
    return elapsed


def p7_rows() -> list[Row]:
    size = env_int("BENCH_P7_BYTES", 512 * MIB)
    runs = env_int("BENCH_P7_RUNS", 2)
    work = Path(tempfile.mkdtemp(prefix="bench-p7-"))
    db_url = f"sqlite+aiosqlite:///{work / 'p7.db'}"
    keys = prepare_database(db_url)
    port = free_port()
    env = server_env(db_url, work / "data", port, RUNYARD_LIMIT_SINGLE_UPLOAD_MAX=str(size + MIB))
    server = start_server("p7-serve", env, port, work)
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/r/files/presign",
            headers={"Authorization": f"Bearer {keys.integration_key}"},
            json={"file_name": "model.bin", "file_size": size},
            timeout=10,
        )
        r.raise_for_status()
        signed = r.json()
        say(f"P7: storing {size // MIB} MiB")
        _, status = raw_put(signed["upload_url"], size, dict(signed["upload_headers"]))
        assert status == 200, status
        url = _download_url(signed["file_key"], work / "data", port)
        sha256 = _zeros_sha256(size)
        plain_s, sync_s = [], []
        for run in range(runs):
            say(f"P7: plain GET and library sync, run {run + 1} of {runs}")
            plain_s.append(asyncio.run(_plain(url, work / "plain.bin")))
            (work / "plain.bin").unlink()
            sync_s.append(asyncio.run(_sync(url, size, sha256, work / "comfy")))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    plain_rate, sync_rate = size / MIB / min(plain_s), size / MIB / min(sync_s)
    ratio = sync_rate / plain_rate
    return [
        Row(
            "P7",
            f"model sync {size // MIB} MiB store -> agent disk, sha256 verified, vs plain GET",
            f"{sync_rate:.0f} vs {plain_rate:.0f} MiB/s = {ratio:.0%}",
            ">= 80 %",
            ratio / 0.80,
            ratio >= 0.80,
        )
    ]


def _download_url(file_key: str, data_dir: Path, port: int) -> str:
    """A presigned GET of the embedded store, signed here with the server's secret (what the
    server puts in ``library.sync.v1``)."""
    from runyard.settings import Settings
    from runyard.storage import build_storage

    settings = Settings(
        environment="test",
        secret_key=SECRET,
        public_url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        storage="local",
    )
    return build_storage(settings).presign_get(
        file_key, expires_in=3600, file_name="model.bin", content_type="application/octet-stream"
    )
