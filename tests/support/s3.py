"""The S3 test server (ministack with AUTH=true, see shared notes): one per pytest process,
since its reset is global. If it cannot start, the tests that need it fail."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port free to listen on, chosen below the kernel's ephemeral range (32768 and up): a
    port the kernel handed out could be taken by any outgoing connection (to PostgreSQL, the
    S3 server…) between this check and the server's bind."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def start_s3_server() -> tuple[str, int]:
    """(endpoint, pid) of a fresh ministack on a free port."""
    port = free_port()
    try:
        started = subprocess.run(
            [str(REPO / "scripts" / "s3-server.sh"), str(port)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/s3-server.sh did not finish within 600 s")
    if started.returncode != 0:
        pytest.fail(f"the S3 test server did not start:\n{started.stderr[-2000:]}")
    return f"http://127.0.0.1:{port}", int(started.stdout.strip().splitlines()[-1])


def stop_s3_server(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def reset_s3(endpoint: str) -> None:
    httpx.post(f"{endpoint}/_ministack/reset", timeout=10).raise_for_status()
