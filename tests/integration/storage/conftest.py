"""Real stores for the storage tests: ministack for S3, a uvicorn server for the embedded store.

The S3 server is ``RUNYARD_TEST_S3_ENDPOINT`` when set, else one started by
``scripts/s3-server.sh`` for this pytest process (ministack's reset is global, so processes must
not share one). When it cannot start, the tests fail: a skipped S3 suite would hide regressions.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn
from fastapi import FastAPI
from storage_backends import Backend

from runyard.errors import install_error_handlers
from runyard.settings import S3Settings
from runyard.storage.endpoints import router
from runyard.storage.local import LocalStorage
from runyard.storage.s3 import S3Storage
from tests.support.s3 import REPO, free_port, reset_s3, start_s3_server, stop_s3_server

BUCKET = "runyard-test"
SECRET = "integration-test-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    given = os.environ.get("RUNYARD_TEST_S3_ENDPOINT")
    if given:
        yield given.rstrip("/")
        return
    endpoint, pid = start_s3_server()  # fails the run (never skips) when it cannot start
    yield endpoint
    stop_s3_server(pid)
    port = endpoint.rsplit(":", 1)[1]
    (REPO / f".s3-{port}.log").unlink(missing_ok=True)


def s3_settings(endpoint: str, **overrides: object) -> S3Settings:
    values: dict[str, object] = {
        "endpoint": endpoint,
        "bucket": BUCKET,
        "region": "us-east-1",
        "access_key_id": "test",
        "secret_access_key": "test",
        "path_style": True,
    }
    values.update(overrides)
    return S3Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def s3_reset(s3_endpoint: str) -> str:
    """A fresh, empty S3 server (no bucket yet)."""
    reset_s3(s3_endpoint)
    return s3_endpoint


@pytest.fixture
def s3_storage(s3_reset: str) -> Iterator[S3Storage]:
    storage = S3Storage(s3_settings(s3_reset))
    storage.client.create_bucket(Bucket=BUCKET)
    yield storage
    storage.client.close()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


@pytest.fixture(scope="session")
def local_app() -> Iterator[tuple[FastAPI, str]]:
    """A real HTTP server running only the embedded store's routes; tests swap the store."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    # The routes read only the store from the services container; tests swap it.
    app.state.services = SimpleNamespace(storage=None)
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the embedded store's test server did not start")
        time.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def local_storage(local_app: tuple[FastAPI, str], tmp_path: Path) -> LocalStorage:
    app, url = local_app
    storage = LocalStorage(tmp_path / "objects", public_url=url, secret_key=SECRET)
    app.state.services.storage = storage
    return storage


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "local":
        return Backend("local", request.getfixturevalue("local_storage"))
    return Backend("s3", request.getfixturevalue("s3_storage"))
