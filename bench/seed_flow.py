"""Benchmark of the seed's whole flow against a real `runyard dev` (SQLite, embedded store, local
agent with capacity 2): presign -> PUT -> run -> completed -> result, and the submit -> start
latency of a queue, as ratios to a bare HTTP round trip (`GET /healthz`) measured in the same
script. Not a test: nothing here asserts a time. Latencies are taken one task at a time, so the
Python client measures latency, not throughput (use wrk for that: bench/presign.py).

Run: ``.venv/bin/python bench/seed_flow.py [--tasks 40]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env["RUNYARD_LOG_LEVEL"] = "WARNING"
    server = subprocess.Popen(
        [sys.executable, "-m", "runyard", "dev", "--data-dir", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("runyard dev did not start")
            time.sleep(0.2)
        creds = json.loads((data / "credentials.json").read_text())
        run(creds, url, args.tasks)
    finally:
        server.terminate()
        server.wait(20)


def run(creds: dict[str, str], url: str, n: int) -> None:
    base = creds["runtime_base"]
    h = {"Authorization": f"Bearer {creds['integration_key']}"}
    body = os.urandom(64 * 1024)
    stages: dict[str, list[float]] = {
        k: []
        for k in (
            "GET /healthz (baseline)",
            "presign",
            "PUT 64 KiB",
            "run (202)",
            "submit -> running",
            "submit -> completed",
            "result",
        )
    }
    with httpx.Client(timeout=30) as c:
        time.sleep(2)  # let the local agent connect
        for _ in range(n):
            t = time.perf_counter()
            c.get(f"{url}/healthz")
            stages["GET /healthz (baseline)"].append(time.perf_counter() - t)
            t = time.perf_counter()
            p = c.post(
                f"{base}/files/presign",
                headers=h,
                json={
                    "file_name": "blob.bin",
                    "file_size": len(body),
                    "content_type": "application/octet-stream",
                },
            ).json()
            stages["presign"].append(time.perf_counter() - t)
            t = time.perf_counter()
            c.put(p["upload_url"], content=body, headers=p["upload_headers"]).raise_for_status()
            stages["PUT 64 KiB"].append(time.perf_counter() - t)
            t = time.perf_counter()
            task_id = c.post(
                f"{base}/workflows/slug/echo/run",
                headers=h,
                json={"parameters": {"input_file": p["file_key"]}},
            ).json()["task_id"]
            submitted = time.perf_counter()
            stages["run (202)"].append(submitted - t)
            running = None
            with c.stream("GET", f"{base}/tasks/{task_id}/events", headers=h) as events:
                for line in events.iter_lines():
                    if line.startswith("data:") and '"running"' in line and running is None:
                        running = time.perf_counter()
                    if line.startswith("event: completed") or line.startswith("event: failed"):
                        break
            done = time.perf_counter()
            stages["submit -> running"].append((running or done) - submitted)
            stages["submit -> completed"].append(done - submitted)
            t = time.perf_counter()
            c.get(f"{base}/tasks/{task_id}/result", headers=h).raise_for_status()
            stages["result"].append(time.perf_counter() - t)
    base_p50 = statistics.median(stages["GET /healthz (baseline)"])
    print(
        f"\nThe seed's flow on `runyard dev`, {n} tasks one at a time (ms; ratio = p50 / "
        "baseline p50)"
    )
    print(f"{'stage':28} {'p50':>8} {'p99':>8} {'ratio':>7}")
    for name, values in stages.items():
        p50 = statistics.median(values)
        print(f"{name:28} {p50 * 1000:8.2f} {pct(values, 0.99) * 1000:8.2f} {p50 / base_p50:7.1f}")


if __name__ == "__main__":
    main()
