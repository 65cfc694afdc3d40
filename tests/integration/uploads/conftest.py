"""Multipart uploads and retention over a real database (SQLite and PostgreSQL) and a real store:
the embedded one, and S3 through ministack (``AUTH=true``, see the shared notes). The part size
is 5 MiB (S3's minimum) so a test moves ~12 MiB, not gigabytes.

``harness`` is overridden here: parametrised by ``backend`` (``local``/``s3``); a test narrows
either axis with ``@pytest.mark.parametrize("backend"|"db_url", [...], indirect=True)``. The S3
server is ``RUNYARD_TEST_S3_ENDPOINT`` when set, else one started for this pytest process (its
reset is global, so processes never share one); when it cannot start the tests fail, not skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from uploads_helpers import BUCKET, PART, Uploader, s3_settings

from runyard.settings import LimitSettings
from runyard.storage.local import LocalStorage
from tests.support.app import Harness, Team, make_settings, running_app
from tests.support.s3 import REPO, reset_s3, start_s3_server, stop_s3_server


@pytest.fixture(scope="session")
def uploads_s3_endpoint() -> Iterator[str]:
    given = os.environ.get("RUNYARD_TEST_S3_ENDPOINT")
    if given:
        yield given.rstrip("/")
        return
    endpoint, pid = start_s3_server()
    yield endpoint
    stop_s3_server(pid)
    (REPO / f".s3-{endpoint.rsplit(':', 1)[1]}.log").unlink(missing_ok=True)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path, backend: str
) -> AsyncIterator[Harness]:
    limits = LimitSettings(part_size=PART)
    if backend == "s3":
        endpoint = request.getfixturevalue("uploads_s3_endpoint")
        reset_s3(endpoint)
        settings = make_settings(
            db_url, tmp_path / "data", limits=limits, storage="s3", s3=s3_settings(endpoint)
        )
    else:
        settings = make_settings(db_url, tmp_path / "data", limits=limits)
    async with running_app(settings) as h:
        if backend == "s3":
            h.app.state.services.storage.client.create_bucket(Bucket=BUCKET)
        else:
            assert isinstance(h.app.state.services.storage, LocalStorage)
        yield h


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


@pytest.fixture
async def alice(harness: Harness, team_a: Team, http: httpx.AsyncClient) -> Uploader:
    """The owner of team A, with a session token."""
    return Uploader(harness, team_a, http)
