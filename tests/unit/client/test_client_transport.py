"""Request building, retries, timeouts and headers, against ``httpx.MockTransport``."""

from __future__ import annotations

import httpx
import pytest

from runyard_client import Client, NotFoundError, TransportError
from tests.unit.client.client_mocks import BASE, error, make_client, task_json


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


def test_a_run_without_idempotency_key_is_not_retried_after_sending() -> None:
    calls, handler = flaky(httpx.ReadTimeout("slow"), httpx.Response(202, json={"task_id": "t"}))
    with make_client(handler) as client, pytest.raises(TransportError):  # type: ignore[arg-type]
        client.run("echo", {})
    assert calls == ["POST"]


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
