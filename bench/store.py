"""P2, the embedded store: one signed PUT of ``BENCH_P2_BYTES`` (1 GiB) to ``runyard serve``
against the same body PUT to a bare Starlette route that streams it to the same disk
(``bench/bare_store.py``), and how much the server's RSS grows meanwhile (sampled every 10 ms).

The client is a raw socket sending one 1 MiB buffer over and over: it costs next to no CPU,
so the two servers, not the client, set the pace.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.common import (
    Proc,
    Row,
    env_int,
    free_port,
    prepare_database,
    rss_mib,
    say,
    server_env,
    start_server,
    wait_http,
)

MIB = 1024 * 1024


def raw_put(url: str, size: int, headers: dict[str, str]) -> tuple[float, int]:
    """(seconds, HTTP status) of one PUT of ``size`` bytes."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"PUT {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    lines.append(f"Content-Length: {size}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    chunk = b"\0" * MIB
    with socket.create_connection((parts.hostname, parts.port or 80)) as sock:
        started = time.perf_counter()
        sock.sendall(head)
        left = size
        while left:
            n = min(left, MIB)
            sock.sendall(chunk if n == MIB else chunk[:n])
            left -= n
        answer = sock.recv(4096)
        elapsed = time.perf_counter() - started
    return elapsed, int(answer.split(b" ", 2)[1])


class RssPeak:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss_mib(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mib(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak - self.before


def p2_rows() -> list[Row]:
    size = env_int("BENCH_P2_BYTES", 1024 * MIB)
    work = Path(tempfile.mkdtemp(prefix="bench-p2-", dir=None))
    port_bare = free_port()
    bare = Proc(
        "bare-store",
        [
            sys.executable,
            "-m",
            "bench.bare_store",
            "--port",
            str(port_bare),
            "--root",
            str(work / "bare"),
        ],
        {},
        work,
    )
    try:
        wait_http(f"http://127.0.0.1:{port_bare}/healthz", bare)
        raw_put(f"http://127.0.0.1:{port_bare}/bare/warm", 8 * MIB, {})
        say(f"P2: bare PUT of {size // MIB} MiB")
        bare_s, status = raw_put(f"http://127.0.0.1:{port_bare}/bare/blob", size, {})
        assert status == 200, status
    finally:
        bare.stop()
    (work / "bare" / "blob").unlink(missing_ok=True)
    db_url = f"sqlite+aiosqlite:///{work / 'p2.db'}"
    keys = prepare_database(db_url)
    port = free_port()
    env = server_env(db_url, work / "data", port, RUNYARD_LIMIT_SINGLE_UPLOAD_MAX=str(size + MIB))
    server = start_server("p2-serve", env, port, work)
    try:
        base = f"http://127.0.0.1:{port}/api/v1/r/files/presign"
        auth = {"Authorization": f"Bearer {keys.integration_key}"}

        def presign(n: int) -> dict[str, object]:
            body = {"file_name": "blob.bin", "file_size": n, "content_type": "application/x-raw"}
            r = httpx.post(base, headers=auth, json=body, timeout=10)
            r.raise_for_status()
            return dict(r.json())

        warm = presign(8 * MIB)
        raw_put(str(warm["upload_url"]), 8 * MIB, dict(warm["upload_headers"]))  # type: ignore[arg-type]
        signed = presign(size)
        say(f"P2: signed PUT of {size // MIB} MiB to runyard serve")
        peak = RssPeak(server.pid)
        ours_s, status = raw_put(str(signed["upload_url"]), size, dict(signed["upload_headers"]))  # type: ignore[arg-type]
        growth = peak.stop()
        assert status == 200, status
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)  # two copies of BENCH_P2_BYTES
    bare_rate, ours_rate = size / MIB / bare_s, size / MIB / ours_s
    ratio = ours_rate / bare_rate
    return [
        Row(
            "P2",
            f"embedded store PUT {size // MIB} MiB vs bare Starlette",
            f"{ours_rate:.0f} vs {bare_rate:.0f} MiB/s = {ratio:.0%}",
            ">= 70 %",
            ratio / 0.70,
            ratio >= 0.70,
        ),
        Row(
            "P2",
            "server RSS growth during the PUT",
            f"{growth:.1f} MiB",
            "< 32 MiB",
            32 / max(growth, 0.1),
            growth < 32,
        ),
    ]
