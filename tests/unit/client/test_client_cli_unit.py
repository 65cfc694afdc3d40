"""The client commands against a scripted server (``httpx.MockTransport`` via ``obj``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from runyard_client import InvalidParameters
from runyard_client.cli import register
from runyard_client.cli._common import describe
from runyard_client.cli.run import parse_parameters
from tests.unit.client.client_mocks import BASE, ChunkStream, error, sse, task_json


def test_values_are_json_when_they_parse() -> None:
    assert parse_parameters(
        ["n=3", "f=0.5", "b=true", "s=hello", 'q="42"', "i=@a.png", "e=", "eq=a=b"]
    ) == {"n": 3, "f": 0.5, "b": True, "s": "hello", "q": "42", "i": "@a.png", "e": "", "eq": "a=b"}
    with pytest.raises(typer.BadParameter):
        parse_parameters(["novalue"])


def test_describe_is_one_line_with_code_and_request_id() -> None:
    exc = InvalidParameters(
        "Some parameters\nare invalid.",
        status_code=422,
        error_code="invalid_parameters",
        request_id="r-9",
        errors=[{"parameter": "strength", "error_message": "too big"}],
    )
    text = describe(exc)
    assert "invalid_parameters" in text and "r-9" in text and "strength: too big" in text


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("RUNYARD_URL", BASE)
    monkeypatch.setenv("RUNYARD_API_KEY", "sk-test")
    app = typer.Typer()
    register(app)
    return app


def completed_server(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/run"):
        return httpx.Response(202, json={"task_id": "t-1"})
    if path.endswith("/events"):
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=ChunkStream(
                sse(
                    (1, "progress", {"task_id": "t-1", "progress": 0.5, "message": "half"}),
                    (2, "completed", {"task_id": "t-1", "task_status": "completed"}),
                )
            ),
        )
    if path.endswith("/result"):
        return httpx.Response(
            200,
            json={
                "id": "t-1",
                "task_status": "completed",
                "task_error": "",
                "task_output": {
                    "outputs": [
                        {
                            "output_id": "o",
                            "file_name": "copy.txt",
                            "content_type": "text/plain",
                            "file_size": 5,
                        }
                    ]
                },
                "download_urls": {"o": "http://store.test/o?sig=1"},
                "download_url": None,
            },
        )
    if request.url.host == "store.test":
        return httpx.Response(200, content=b"hello")
    return httpx.Response(200, json=task_json(status="completed", progress=1.0))


def test_run_wait_download_json(cli: typer.Typer, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        ["run", "echo", "-p", "input_file=inputs/x", "--download", str(tmp_path / "out"), "--json"],
        obj={"transport": httpx.MockTransport(completed_server)},
    )
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["task_status"] == "completed"
    assert body["downloaded"] == [str(tmp_path / "out" / "copy.txt")]
    assert (tmp_path / "out" / "copy.txt").read_bytes() == b"hello"


def test_a_failed_task_exits_6(cli: typer.Typer) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return error(404, "not_found")
        if request.url.path.endswith("/run"):
            return httpx.Response(202, json={"task_id": "t-1"})
        return httpx.Response(
            200,
            json=task_json(
                status="failed", task_error="agent vanished", task_error_code="agent_lost"
            ),
        )

    r = CliRunner().invoke(
        cli, ["run", "echo", "--wait"], obj={"transport": httpx.MockTransport(server)}
    )
    assert r.exit_code == 6
    assert r.stderr.strip() == "error: task t-1 failed: agent vanished (agent_lost)"


def test_an_unreachable_server_exits_5(cli: typer.Typer) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    r = CliRunner().invoke(
        cli,
        ["agents", "list"],
        obj={"transport": httpx.MockTransport(down)},
        env={"RUNYARD_URL": "http://down.test"},
    )
    assert r.exit_code == 5 and r.stderr.startswith("error: GET http://down.test/api/v1/r/agents")


def test_run_sends_an_idempotency_key_and_retries_a_lost_answer_with_it(
    cli: typer.Typer,
) -> None:
    keys: list[str | None] = []

    def server(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key"))
        if len(keys) == 1:
            raise httpx.ReadError("the server died before answering")
        return httpx.Response(202, json={"task_id": "t-1"})

    r = CliRunner().invoke(
        cli, ["run", "echo", "--json"], obj={"transport": httpx.MockTransport(server)}
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["task_id"] == "t-1"
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0], keys


def test_describe_says_each_parameter_error_once() -> None:
    exc = InvalidParameters(
        "Some parameters are invalid: strength must be at most 1.",
        status_code=422,
        error_code="invalid_parameters",
        errors=[
            {"parameter": "strength", "error_message": "strength must be at most 1."},
            {"parameter": "prompt", "error_message": "prompt must be one of: a, b."},
        ],
    )
    text = describe(exc)
    assert text.count("strength must be at most 1") == 1
    assert text.count("prompt must be one of") == 1
