"""Request building, retries, timeouts and headers, against ``httpx.MockTransport``."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from runyard_client import Client, NotFoundError, TransportError
from tests.unit.client.client_mocks import (
    BASE,
    error,
    make_async_client,
    make_client,
    task_json,
)


def test_headers_auth_team_and_user_agent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=task_json())

    with make_client(handler, api_key="session.jwt.token", team_id="team-9") as client:
        client.tasks.get("t-1")
    (request,) = seen
    assert request.url == f"{BASE}/api/v1/r/tasks/t-1"
    assert request.headers["Authorization"] == "Bearer session.jwt.token"
    assert request.headers["X-Team-ID"] == "team-9"
    assert request.headers["User-Agent"].startswith("runyard-client/")


def test_timeouts_are_finite_by_default() -> None:
    client = Client(BASE, "sk-x", use_profile=False)
    timeout = client._executor.http.timeout
    assert None not in (timeout.connect, timeout.read, timeout.write, timeout.pool)
    assert client._executor.core.upload_timeout.read is not None
    client.close()


def test_ids_are_quoted_into_the_path() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url.raw_path, "ascii"))
        return error(404, "workflow_not_found")

    with make_client(handler) as client, pytest.raises(NotFoundError):
        client.workflows.get_by_slug("a/b@2")
    assert urls == ["/api/v1/r/workflows/slug/a%2Fb@2"]


@pytest.mark.parametrize("ref", ["echo", "echo@3"])
def test_slug_refs_use_the_slug_route(ref: str) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(202, json={"task_id": "t-1"})

    with make_client(handler) as client:
        client.run(ref, {"x": 1})
    assert paths == [f"/api/v1/r/workflows/slug/{ref}/run"]


def test_uuid_refs_use_the_id_route() -> None:
    wid = "01a212ff-e3e8-7540-9605-cb2aabd80551"
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(202, json={"task_id": "t-1"}, headers={"Idempotent-Replayed": "true"})

    with make_client(handler) as client:
        task = client.run(wid, {}, idempotency_key="k")
    assert paths == [f"/api/v1/r/workflows/{wid}/run"] and task.replayed


def flaky(exc: Exception, then: httpx.Response, failures: int = 1) -> tuple[list[str], object]:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) <= failures:
            raise exc
        return then

    return calls, handler


def test_gets_are_retried_on_connection_errors() -> None:
    calls, handler = flaky(httpx.ReadError("reset"), httpx.Response(200, json=task_json()))
    with make_client(handler) as client:  # type: ignore[arg-type]
        assert client.tasks.get("t-1").id == "t-1"
    assert calls == ["GET", "GET"]


def test_gets_are_retried_on_503() -> None:
    answers = iter([error(503, "not_ready"), httpx.Response(200, json=task_json())])
    with make_client(lambda r: next(answers)) as client:
        assert client.tasks.get("t-1").task_status == "pending"


def keys_seen(
    failures: int, exc: Exception | None = None
) -> tuple[list[str | None], Callable[[httpx.Request], httpx.Response]]:
    """A server that drops the first ``failures`` runs after reading them (the answer is lost)
    and records the Idempotency-Key of every run it saw."""
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key"))
        if len(keys) <= failures:
            raise exc or httpx.ReadError("connection reset after the request was sent")
        return httpx.Response(202, json={"task_id": "t"})

    return keys, handler


def test_every_run_sends_a_fresh_idempotency_key() -> None:
    keys, handler = keys_seen(failures=0)
    with make_client(handler) as client:
        client.run("echo", {})
        client.run("echo", {})
    assert all(k is not None and str(uuid.UUID(k)) == k for k in keys), keys
    assert keys[0] != keys[1]  # two logical runs are two tasks


@pytest.mark.parametrize(
    "exc", [httpx.ReadError("reset"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")]
)
def test_a_run_whose_answer_was_lost_is_retried_with_the_same_key(exc: Exception) -> None:
    keys, handler = keys_seen(failures=2, exc=exc)
    with make_client(handler, max_retries=2) as client:
        assert client.run("echo", {}).id == "t"
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0] is not None, keys


def test_a_given_idempotency_key_is_sent_as_is_on_every_retry() -> None:
    keys, handler = keys_seen(failures=1)
    with make_client(handler) as client:
        client.run("echo", {}, idempotency_key="job-42")
    assert keys == ["job-42", "job-42"]


async def test_the_async_client_reuses_its_key_across_retries() -> None:
    keys, handler = keys_seen(failures=1)
    async with make_async_client(handler) as client:
        assert (await client.run("echo", {})).id == "t"
        await client.run("echo", {})
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2], keys


def test_a_run_with_idempotency_key_is_retried() -> None:
    calls, handler = flaky(httpx.ReadTimeout("slow"), httpx.Response(202, json={"task_id": "t"}))
    with make_client(handler) as client:  # type: ignore[arg-type]
        assert client.run("echo", {}, idempotency_key="k").id == "t"
    assert calls == ["POST", "POST"]


def test_a_refused_connection_is_retried_even_for_a_post() -> None:
    calls, handler = flaky(
        httpx.ConnectError("refused"), httpx.Response(202, json={"task_id": "t"})
    )
    with make_client(handler) as client:  # type: ignore[arg-type]
        assert client.run("echo", {}).id == "t"
    assert calls == ["POST", "POST"]


def test_retries_are_bounded_and_end_in_transport_error() -> None:
    calls, handler = flaky(httpx.ConnectError("refused"), httpx.Response(200), failures=99)
    client = make_client(handler, max_retries=2)  # type: ignore[arg-type]
    with client, pytest.raises(TransportError, match="ConnectError"):
        client.tasks.list()
    assert len(calls) == 3


def test_a_rate_limited_run_is_retried_after_the_servers_hint() -> None:
    limited = error(429, "rate_limited")
    limited.headers["Retry-After"] = "0"
    answers = iter([limited, httpx.Response(202, json={"task_id": "t-9"})])
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Idempotency-Key"))
        return next(answers)

    with make_client(handler) as client:
        assert client.run("img2img", {}).id == "t-9"
    assert len(seen) == 2 and seen[0] == seen[1]  # the same run, retried once
