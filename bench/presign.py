"""P1, the seed's step 1 (``POST /api/v1/r/files/presign``), as ratios against baselines run in
the same process. Not a test: nothing here asserts a time.

- ``p1_rows`` (in ``make bench``): over HTTP with ``wrk`` (Python load generators distort
  ratios), ``runyard serve`` with the S3 backend and an ``sk-`` key against the same server whose
  signer returns a fixed URL (``bench/fixed_url_server.py``: same auth, same row, same commit),
  at full load (``wrk -c32``); then the real server at half its full rate with random think
  times (never lock-step) for the p99. On PostgreSQL and on SQLite.
- ``signing_table`` (``python -m bench.presign``): signing alone, in process: boto3's
  ``generate_presigned_url``, our S3 signer and the embedded store's signer.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import boto3
from botocore.config import Config

from bench.common import (
    Proc,
    Row,
    env_int,
    free_port,
    pg_drop,
    pg_recreate,
    prepare_database,
    server_env,
    wait_http,
)
from runyard.settings import S3Settings
from runyard.storage.local import LocalStorage
from runyard.storage.s3 import S3Storage

N = 5000


def per_call(fn: object, n: int = N) -> float:
    for _ in range(200):
        fn()  # type: ignore[operator]
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def signing_table() -> None:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    s3 = S3Storage(
        S3Settings(
            endpoint="http://127.0.0.1:9",
            bucket="b",
            access_key_id="test",
            secret_access_key="test",
        )
    )
    local = LocalStorage(
        Path(tempfile.mkdtemp()),
        public_url="http://127.0.0.1:8000",
        secret_key="bench-secret-0123456789abcdef0123456789",
    )
    key = "inputs/team/01a2-upload/photo.png"
    rows = [
        (
            "boto3 generate_presigned_url (baseline)",
            per_call(
                lambda: client.generate_presigned_url(
                    "put_object",
                    Params={
                        "Bucket": "b",
                        "Key": key,
                        "ContentLength": 1048576,
                        "IfNoneMatch": "*",
                    },
                    ExpiresIn=900,
                )
            ),
        ),
        ("S3Storage.presign_put", per_call(lambda: s3.presign_put(key, 1048576, expires_in=900))),
        (
            "LocalStorage.presign_put",
            per_call(lambda: local.presign_put(key, 1048576, expires_in=900)),
        ),
    ]
    base = rows[0][1]
    print("\nSigning one upload URL (in process, µs per call; lower is better)")
    print(f"{'signer':42} {'µs/call':>9} {'ratio':>7}")
    for name, us in rows:
        print(f"{name:42} {us:9.1f} {us / base:7.2f}")


LUA = textwrap.dedent("""
    wrk.method = "POST"
    wrk.body = '{"file_name":"photo.png","file_size":1048576,"content_type":"image/png"}'
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer KEY"
    DELAY
""")
THINK = "function delay() return math.random(0, MAX) end"


def wrk(
    url: str, key: str, work: Path, seconds: int, conns: int, think_ms: int = 0
) -> tuple[float, float]:
    """(requests/s, p99 ms); ``think_ms`` > 0 adds a uniform random delay of 0..2×think_ms."""
    script = work / "post.lua"
    delay = THINK.replace("MAX", str(2 * think_ms)) if think_ms else ""
    script.write_text(LUA.replace("KEY", key).replace("DELAY", delay))
    args = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*args, url + "/api/v1/r/files/presign"], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed requests; the benchmark is invalid")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")


def _server(module: list[str], name: str, env: dict[str, str], port: int, logs: Path) -> Proc:
    proc = Proc(name, [sys.executable, "-m", *module, "--port", str(port)], env, logs)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def p1_rows(pg: bool) -> list[Row]:
    seconds = env_int("BENCH_P1_SECONDS", 5)
    work = Path(tempfile.mkdtemp(prefix="bench-p1-"))
    legs = [("SQLite", f"sqlite+aiosqlite:///{work / 'p1.db'}")]
    if pg:
        pg_recreate("runyard_bench_p1")
        legs.insert(
            0, ("PostgreSQL", "postgresql+asyncpg://postgres@127.0.0.1:5432/runyard_bench_p1")
        )
    rows: list[Row] = []
    for label, db_url in legs:
        keys = prepare_database(db_url)
        port = free_port()
        env = server_env(
            db_url,
            work / f"data-{label}",
            port,
            RUNYARD_STORAGE="s3",
            RUNYARD_S3_BUCKET="bench",
            RUNYARD_S3_ENDPOINT="http://127.0.0.1:9",
            RUNYARD_S3_ACCESS_KEY_ID="test",
            RUNYARD_S3_SECRET_ACCESS_KEY="test",
        )
        port_fixed = free_port()
        url = f"http://127.0.0.1:{port}"
        url_fixed = f"http://127.0.0.1:{port_fixed}"
        env_fixed = dict(env, RUNYARD_PUBLIC_URL=url_fixed)
        real = _server(["runyard", "serve"], f"p1-serve-{label}", env, port, work)
        fixed = _server(
            ["bench.fixed_url_server"], f"p1-fixed-{label}", env_fixed, port_fixed, work
        )
        try:
            key = keys.integration_key
            wrk(url_fixed, key, work, 1, 32)  # warm-up
            wrk(url, key, work, 1, 32)
            # Alternate A/B/A/B and keep each side's best run: other load on the machine
            # then hurts both sides alike instead of whichever ran at the wrong moment.
            base_rps = rps = 0.0
            for _ in range(2):
                base_rps = max(base_rps, wrk(url_fixed, key, work, seconds, 32)[0])
                rps = max(rps, wrk(url, key, work, seconds, 32)[0])
            conns = 16
            think = max(1, int(1000 * conns / (rps / 2)))  # mean think time for half the rate
            half_rps, p99 = wrk(url, key, work, seconds, conns, think)
            # The baseline at the same offered load: what the machine allows this route.
            _, base_p99 = wrk(url_fixed, key, work, seconds, conns, think)
        finally:
            fixed.stop()
            real.stop()
        ratio = rps / base_rps
        rows.append(
            Row(
                "P1",
                f"presign sk- vs fixed URL, {label}",
                f"{rps:.0f} vs {base_rps:.0f} req/s",
                ">= 75 %",
                ratio / 0.75,
                ratio >= 0.75,
            )
        )
        rows[-1].measured += f" = {ratio:.0%}"
        rows.append(
            Row(
                "P1",
                f"presign p99 at half load, {label}",
                f"{p99:.1f} ms at {half_rps:.0f} req/s",
                "<= 15 ms",
                15 / p99,
                p99 <= 15,
            )
        )
        rows.append(
            Row(
                "P1",
                f"  baseline: fixed-URL p99 at the same offered load, {label}",
                f"{base_p99:.1f} ms",
            )
        )
    if pg:
        pg_drop("runyard_bench_p1")
    return rows


if __name__ == "__main__":
    signing_table()
