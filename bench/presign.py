"""Benchmark of the seed's step 1 (``POST /r/files/presign``): ratios against baselines run in
the same script, printed as tables. Not a test: nothing here asserts a time.

1. Signing alone, in process: boto3's ``generate_presigned_url`` (the baseline), our S3 signer
   (``S3Storage.presign_put``) and the embedded store's signer.
2. Over HTTP with ``wrk`` (Debian package ``wrk``; Python load generators distort ratios): a bare
   FastAPI POST endpoint under the same uvicorn (the baseline) against ``runyard serve``'s
   presign endpoint with an ``sk-`` key on SQLite, with the S3 and the embedded store backends.

Run: ``make bench`` (or ``.venv/bin/python bench/presign.py``).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import boto3
from botocore.config import Config

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


BARE_APP = textwrap.dedent("""
    from fastapi import FastAPI
    from pydantic import BaseModel
    app = FastAPI()
    class Body(BaseModel):
        file_name: str
        file_size: int
        content_type: str
    @app.post("/api/v1/r/files/presign")
    async def presign(body: Body) -> dict[str, str]:
        return {"file_key": "inputs/x/" + body.file_name, "upload_url": "http://x", "n": "1"}
""")
LUA = textwrap.dedent("""
    wrk.method = "POST"
    wrk.body = '{"file_name":"photo.png","file_size":1048576,"content_type":"image/png"}'
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer KEY"
""")


def wrk(url: str, key: str, work: Path, seconds: int = 5) -> tuple[float, str]:
    script = work / "post.lua"
    script.write_text(LUA.replace("KEY", key))
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c32",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url + "/api/v1/r/files/presign",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed requests; the benchmark is invalid")
    return rps, p99.group(1) if p99 else "?"


def serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server on port {port} did not start")


def pg_database() -> str | None:
    """A fresh `runyard_bench` database on the local PostgreSQL, or None when there is none."""
    try:
        import asyncpg

        async def recreate() -> None:
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
            await conn.execute("DROP DATABASE IF EXISTS runyard_bench")
            await conn.execute("CREATE DATABASE runyard_bench")
            await conn.close()

        asyncio.run(recreate())
    except (OSError, ImportError) as exc:
        print(f"(no PostgreSQL row: {exc})")
        return None
    return "postgresql+asyncpg://postgres@127.0.0.1:5432/runyard_bench"


def http_table() -> None:
    if shutil.which("wrk") is None:
        print("\n(wrk not installed: `apt-get install wrk` for the HTTP table)")
        return
    from runyard.bootstrap import provision
    from runyard.db.engine import Database
    from runyard.migrations import upgrade
    from runyard.settings import DatabaseSettings, Settings

    work = Path(tempfile.mkdtemp())
    (work / "bare.py").write_text(BARE_APP)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    rows: list[tuple[str, float, str]] = []
    bare = serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(work),
            "bare:app",
            "--port",
            "8891",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        base_env,
        8891,
    )
    try:
        rows.append(("bare FastAPI POST (baseline)", *wrk("http://127.0.0.1:8891", "x", work)))
    finally:
        bare.terminate()
    legs = [
        ("s3", f"sqlite+aiosqlite:///{work / 's3.db'}", "SQLite + s3"),
        ("local", f"sqlite+aiosqlite:///{work / 'local.db'}", "SQLite + local"),
    ]
    pg = pg_database()
    if pg:
        legs.append(("s3", pg, "PostgreSQL + s3"))
    for backend, db_url, label in legs:
        upgrade(db_url)
        settings = Settings(environment="test", secret_key="b" * 40)

        async def bootstrap(url: str = db_url, settings: Settings = settings) -> str:
            db = Database(DatabaseSettings(url=url))
            try:
                return (await provision(db, settings, builtins=False)).integration_key
            finally:
                await db.dispose()

        key = asyncio.run(bootstrap())
        env = dict(
            base_env,
            RUNYARD_DB_URL=db_url,
            # prod refuses a guessable secret (runyard serve runs as prod)
            RUNYARD_SECRET_KEY=secrets.token_urlsafe(48),
            # measure the limiter's cost, not its refusals: wrk sends far more than a client
            RUNYARD_RATE_LIMIT_PRESIGN="1000000/second",
            RUNYARD_RATE_LIMIT_PRESIGN_PER_ADDRESS="1000000/second",
            RUNYARD_STORAGE=backend,
            RUNYARD_S3_BUCKET="bench",
            RUNYARD_S3_ENDPOINT="http://127.0.0.1:9",
            RUNYARD_S3_ACCESS_KEY_ID="test",
            RUNYARD_S3_SECRET_ACCESS_KEY="test",
            RUNYARD_LOG_LEVEL="WARNING",
            RUNYARD_DATA_DIR=str(work / backend),
            RUNYARD_LIMIT_BYTES_PRESIGNED_PER_DAY=str(10**18),
        )
        proc = serve([sys.executable, "-m", "runyard", "serve", "--port", "8892"], env, 8892)
        try:
            rows.append((f"runyard presign, {label}", *wrk("http://127.0.0.1:8892", key, work)))
        finally:
            proc.terminate()
            proc.wait(10)
    base = rows[0][1]
    print("\nPOST /api/v1/r/files/presign under wrk -c32 (higher is better)")
    print(f"{'server':42} {'req/s':>9} {'ratio':>7} {'p99':>9}")
    for name, rps, p99 in rows:
        print(f"{name:42} {rps:9.0f} {rps / base:7.2f} {p99:>9}")


if __name__ == "__main__":
    signing_table()
    http_table()
