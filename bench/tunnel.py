"""T rows: tunnels. One ``runyard serve`` (SQLite), one ``runyard agent`` allowing the port of the
ComfyUI stand-in beside it (uvicorn, kept-alive connections like ComfyUI's aiohttp), serving a
64 MiB output through ``/view`` and its small ``/system_stats``.

- T1: MiB/s of the 64 MiB download through an http tunnel (server, agent WebSocket, agent,
  app) beside the same download straight from the app on loopback;
- T2: the p50 a small GET gains through the tunnel (kept-alive connections both ways);
- T3: no-op tasks/s of the same agent while a tunnel streams downloads, beside without.

Sizes: ``BENCH_T_MIB`` (64), ``BENCH_T_REQUESTS`` (300), ``BENCH_T_TASKS`` (200).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import (
    Keys,
    Proc,
    Row,
    env_int,
    free_port,
    prepare_database,
    say,
    server_env,
    start_server,
    wait_agents,
    wait_http,
)


def _download(client: httpx.Client, url: str, headers: dict[str, str]) -> float:
    """MiB/s of one streamed GET."""
    started = time.perf_counter()
    size = 0
    with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(1024 * 1024):
            size += len(chunk)
    return size / (1024 * 1024) / (time.perf_counter() - started)


def _p50_ms(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _tasks_per_s(url: str, keys: Keys, n: int) -> float:
    headers = {"Authorization": f"Bearer {keys.integration_key}"}
    run = f"{url}/api/v1/r/workflows/slug/sleep/run"
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(
                lambda _: client.post(run, headers=headers, json={"parameters": {}}).json()[
                    "task_id"
                ],
                range(n),
            )
        )
        for task_id in ids:
            while True:
                status = client.get(f"{url}/api/v1/r/tasks/{task_id}", headers=headers).json()
                if status["task_status"] in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.02)
    return n / (time.perf_counter() - started)


def t_rows() -> list[Row]:
    mib = env_int("BENCH_T_MIB", 64)
    requests = env_int("BENCH_T_REQUESTS", 300)
    n_tasks = env_int("BENCH_T_TASKS", 200)
    root = Path(tempfile.mkdtemp(prefix="bench-tunnel-"))
    logs = root / "logs"
    logs.mkdir()
    files = root / "comfyui"
    (files / "output").mkdir(parents=True)
    (files / "output" / "big.bin").write_bytes(os.urandom(1024 * 1024) * mib)
    db_url = f"sqlite+aiosqlite:///{root / 'tunnel.db'}"
    keys = prepare_database(db_url)
    port, app_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(
        db_url, root / "data", port, RUNYARD_TUNNEL_BASE_URL=f"http://localhost:{port}"
    )
    procs: list[Proc] = []
    try:
        app = Proc(
            "comfyui-standin",
            [sys.executable, "-m", "runyard_testing.comfyui_standin", "--port", str(app_port),
             "--data-dir", str(files)],
            env, logs,
        )  # fmt: skip
        procs.append(app)
        wait_http(f"http://127.0.0.1:{app_port}/system_stats", app)
        procs.append(start_server("tunnel-server", env, port, logs))
        agent = _agent_with_port(url, keys, app_port, logs)
        procs.append(agent)
        wait_agents(url, keys.integration_key, 1)
        say("T: tasks/s without a tunnel")
        alone = _tasks_per_s(url, keys, n_tasks)
        device = {"Authorization": f"Bearer {keys.device_key}"}
        tunnel = httpx.post(
            f"{url}/api/v1/agents/tunnel-agent/tunnels",
            headers=device,
            json={"port": app_port, "protocol": "http"},
        ).json()
        origin = {"Host": f"localhost:{port}"}
        with httpx.Client(timeout=120) as client:
            entry = client.get(tunnel["url"].replace(f"localhost:{port}", f"127.0.0.1:{port}"),
                               headers=origin)  # fmt: skip
            cookie = entry.headers["set-cookie"].split(";")[0]
            through = {**origin, "Cookie": cookie}
            say("T: downloads")
            _download(
                client, f"http://127.0.0.1:{app_port}/view?filename=big.bin&type=output", {}
            )  # warm up
            direct_mib = max(
                _download(
                    client, f"http://127.0.0.1:{app_port}/view?filename=big.bin&type=output", {}
                )
                for _ in range(2)
            )
            tunnel_mib = max(
                _download(client, f"{url}/view?filename=big.bin&type=output", through)
                for _ in range(2)
            )
            say("T: small requests")
            direct_p50 = _p50_ms(client, f"http://127.0.0.1:{app_port}/system_stats", {}, requests)
            tunnel_p50 = _p50_ms(client, f"{url}/system_stats", through, requests)
        stop = threading.Event()

        def stream() -> None:
            with httpx.Client(timeout=120) as streamer:
                while not stop.is_set():
                    _download(streamer, f"{url}/view?filename=big.bin&type=output", through)

        say("T: tasks/s while a tunnel streams")
        streamer = threading.Thread(target=stream, daemon=True)
        streamer.start()
        try:
            busy = _tasks_per_s(url, keys, n_tasks)
        finally:
            stop.set()
            streamer.join(120)
    finally:
        for proc in reversed(procs):
            proc.stop()
    share = tunnel_mib / direct_mib
    added = tunnel_p50 - direct_p50
    kept = busy / alone
    return [
        Row("T1", "MiB/s through an http tunnel vs direct loopback, same app and file",
            f"{tunnel_mib:.0f} vs {direct_mib:.0f} MiB/s = {share:.2f}", ">= 0.5", share / 0.5,
            share >= 0.5),
        Row("T2", "p50 added per small HTTP request through the tunnel",
            f"{added:.2f} ms ({tunnel_p50:.2f} vs {direct_p50:.2f})", "<= 5 ms",
            5 / max(added, 0.01), added <= 5),
        Row("T3", "no-op tasks/s of the agent while a tunnel streams vs without",
            f"{busy:.1f} vs {alone:.1f}/s = {kept:.2f}", ">= 0.9", kept / 0.9, kept >= 0.9),
    ]  # fmt: skip


def _agent_with_port(url: str, keys: Keys, app_port: int, logs: Path) -> Proc:
    from bench.common import clean_env

    env = clean_env()
    env.update(RUNYARD_URL=url, RUNYARD_AGENT_KEY=keys.agent_key)
    work = logs / "work-tunnel-agent"
    work.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "runyard_agent", "--agent-id", "tunnel-agent", "--labels",
            "cpu", "--capacity", "8", "--work-dir", str(work), "--log-level", "warning",
            "--tunnel-port", str(app_port)]  # fmt: skip
    return Proc("tunnel-agent", args, env, logs)
