"""Tunnels with real processes: two ``runyard serve`` on one PostgreSQL, a ``runyard agent``
connected to the second, a plain TCP echo server beside the agent. A member reaches the echo
through the first server (the hop), the API refuses what it must, an exclusive tunnel stops
dispatch until closed, and killing the agent ends the session with a message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from runyard.db.engine import Database
from runyard.settings import DatabaseSettings
from runyard.teams.service import TeamService
from tests.acceptance.conftest import FAST_TIMERS, SECRET, Stack, _provision
from tests.support.databases import pg_url, truncate_pg
from tests.support.processes import Proc, python_cmd, wait_until
from tests.support.s3 import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.pg]
FAST_TUNNELS = {"RUNYARD_TUNNEL_SWEEP_INTERVAL": "0.3"}


@pytest.fixture
def pair(
    e2e_pg_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Stack, Stack, int]]:
    """Two servers on one database (the embedded store: nothing big is stored), and an echo
    server's port; ``indirect`` parameters add settings."""
    from runyard.settings import Settings

    asyncio.run(truncate_pg(e2e_pg_name))
    db_url = pg_url(e2e_pg_name)
    ports = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(FAST_TIMERS)
    env.update(
        FAST_TUNNELS,
        RUNYARD_SECRET_KEY=SECRET,
        RUNYARD_PUBLIC_URL=f"http://127.0.0.1:{ports[0]}",
        RUNYARD_DATA_DIR=str(tmp_path / "data"),
        RUNYARD_DB_URL=db_url,
        RUNYARD_STORAGE="local",
        RUNYARD_LOG_LEVEL="INFO",
        RUNYARD_METRICS_TOKEN="metrics-token",
    )
    env.update(getattr(request, "param", {}))
    settings = Settings(environment="test", secret_key=SECRET, public_url=env["RUNYARD_PUBLIC_URL"])
    team, other = _provision(db_url, settings)
    logs = tmp_path / "logs"
    logs.mkdir()
    a = Stack("e2e-postgres-s3", f"http://127.0.0.1:{ports[0]}", env, team, logs, other_team=other)
    b = replace(a, url=f"http://127.0.0.1:{ports[1]}", procs=[])
    echo_port = free_port()
    echo = Proc("echo", python_cmd("-m", "tests.support.echo", str(echo_port)), env, logs)
    try:  # a server that fails to start is stopped too
        a.start_server()
        b.start_server()
        yield a, b, echo_port
    finally:
        for proc in [*a.procs, *b.procs, a.server, b.server, echo]:
            if proc is not None:
                proc.stop()


def _users(db_url: str, team_id: str) -> None:
    async def go() -> None:
        db = Database(DatabaseSettings(url=db_url))
        try:
            async with db.session() as session:
                service = TeamService(session)
                for role in ("member", "viewer"):
                    user = await service.create_user(f"{role}@example.com", f"password-{role}")
                    await service.add_member(team_id, user.email_address, role)
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(go())


def _login(url: str, role: str) -> dict[str, str]:
    r = httpx.post(
        f"{url}/api/v1/auth/login",
        json={"email_address": f"{role}@example.com", "user_password": f"password-{role}"},
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _echo_through(url: str, tunnel_id: str, headers: dict[str, str], payload: bytes) -> bytes:
    ws_url = url.replace("http://", "ws://") + f"/api/v1/tunnels/{tunnel_id}/connect"
    async with connect(ws_url, additional_headers=headers, max_size=None) as ws:
        assert json.loads(await ws.recv()) == {"ok": True}
        got = b""

        async def send() -> None:
            for start in range(0, len(payload), 60_000):
                await ws.send(payload[start : start + 60_000])

        sender = asyncio.create_task(send())
        while len(got) < len(payload):
            message = await ws.recv()
            assert isinstance(message, bytes)
            got += message
        await sender
        return got


def test_a_member_reaches_the_agents_port_through_either_server(
    pair: tuple[Stack, Stack, int],
) -> None:
    a, b, echo_port = pair
    _users(a.env["RUNYARD_DB_URL"], a.team.team_id)
    b.start_agent("gpu-1", extra=["--tunnel-port", str(echo_port)])
    a.wait_agent("gpu-1")
    member = _login(a.url, "member")
    api = f"{a.url}/api/v1"

    # Refusals: a port the agent does not allow, another team's or an unknown agent, the
    # roles and key kinds that may not open tunnels, an http tunnel without a tunnel origin.
    def open_(headers: dict[str, str], agent: str = "gpu-1", **body: object) -> httpx.Response:
        payload = {"port": echo_port, "protocol": "tcp", **body}
        return httpx.post(f"{api}/agents/{agent}/tunnels", headers=headers, json=payload)

    r = open_(member, port=22)
    assert (r.status_code, r.json()["error_code"]) == (403, "tunnel_port_not_allowed")
    assert (
        str(echo_port) in r.json()["error_message"] and "--tunnel-port" in r.json()["error_message"]
    )
    assert open_(member, agent="nobody").status_code == 404
    assert a.other_team is not None
    other = {"Authorization": f"Bearer {a.other_team.device_key}"}
    assert open_(other).json()["error_code"] == "agent_not_found"
    assert open_(_login(a.url, "viewer")).status_code == 403
    assert open_({"Authorization": f"Bearer {a.team.integration_key}"}).status_code == 403
    assert open_({"Authorization": f"Bearer {a.team.agent_key}"}).status_code == 403
    r = open_(member, protocol="http")
    assert (r.status_code, r.json()["error_code"]) == (409, "tunnel_origin_not_configured")

    # A device key (the CLI's) opens a tcp tunnel on server A; the agent is on server B.
    device = {"Authorization": f"Bearer {a.team.device_key}"}
    r = open_(device)
    assert r.status_code == 201, r.text
    tunnel = r.json()
    assert tunnel["tunnel_status"] == "open" and tunnel["connect_url"].endswith("/connect")
    payload = os.urandom(3 * 1024 * 1024 + 17)  # several windows, chunks of odd sizes
    assert asyncio.run(_echo_through(a.url, tunnel["id"], device, payload)) == payload
    assert asyncio.run(_echo_through(b.url, tunnel["id"], member, b"hello")) == b"hello"
    metrics = httpx.get(f"{a.url}/metrics", headers={"Authorization": "Bearer metrics-token"})
    relayed = {
        line.split('"')[1]: float(line.split()[-1])
        for line in metrics.text.splitlines()
        if line.startswith("runyard_tunnel_bytes_total{")
    }
    assert relayed["to_agent"] >= len(payload) and relayed["from_agent"] >= len(payload)
    # Another team's credential cannot use the tunnel.
    with pytest.raises(Exception, match="404"):
        asyncio.run(_echo_through(a.url, tunnel["id"], other, b"x"))
    listed = httpx.get(f"{api}/agents/gpu-1/tunnels", headers=_login(a.url, "viewer")).json()
    assert [t["id"] for t in listed["tunnel_list"]] == [tunnel["id"]]
    assert listed["tunnel_list"][0]["sessions_total"] == 2

    # `runyard tunnel open` forwards a local port through server A (its own tcp tunnel).
    local = free_port()
    cli = Proc(
        "tunnel-cli",
        python_cmd("-m", "runyard", "tunnel", "open", "gpu-1", "--port", str(echo_port),
                   "--local-port", str(local)),
        {**a.env, "RUNYARD_URL": a.url, "RUNYARD_API_KEY": a.team.device_key}, a.logs,
    )  # fmt: skip
    wait_until(lambda: "Forwarding 127.0.0.1:" in cli.log(), 30)
    for _ in range(2):  # two connections, one after the other
        with socket.create_connection(("127.0.0.1", local), timeout=10) as conn:
            conn.sendall(b"through the CLI")
            assert conn.recv(100) == b"through the CLI"
    cli.signal(signal.SIGINT)
    assert cli.wait(20) == 0, cli.log()
    assert "Closed tunnel" in cli.log()
    listed = httpx.get(f"{api}/agents/gpu-1/tunnels", headers=member).json()["tunnel_list"]
    assert [t["tunnel_status"] for t in listed] == ["open", "closed"]

    # Closing ends it: the next connection is refused with the reason.
    closed = httpx.delete(f"{api}/tunnels/{tunnel['id']}", headers=member)
    assert closed.status_code == 200 and closed.json()["tunnel_status"] == "closed"

    # The audit trail: who opened and closed it, its sessions, when it was last used and the
    # bytes relayed (counted once, where the user arrived; written on each process's sweep).
    def audit() -> dict[str, object]:
        return dict(httpx.get(f"{api}/tunnels/{tunnel['id']}", headers=member).json())

    wait_until(lambda: audit()["bytes_to_agent"] == len(payload) + 5, 10)
    trail = audit()
    assert trail["bytes_from_agent"] == len(payload) + 5
    assert trail["closed_by_email"] == "member@example.com"
    assert trail["close_reason"] == "closed by a user" and trail["closed_by"]
    assert trail["opened_by_email"] and trail["last_used_at"] and trail["sessions_total"] == 2
    with pytest.raises(Exception, match="410"):
        asyncio.run(_echo_through(a.url, tunnel["id"], member, b"x"))


def test_an_exclusive_tunnel_stops_dispatch_until_closed(pair: tuple[Stack, Stack, int]) -> None:
    a, b, echo_port = pair
    _users(a.env["RUNYARD_DB_URL"], a.team.team_id)
    b.start_agent("gpu-1", extra=["--tunnel-port", str(echo_port)])
    a.wait_agent("gpu-1")
    member = _login(a.url, "member")
    r = httpx.post(
        f"{a.url}/api/v1/agents/gpu-1/tunnels",
        headers=member,
        json={"port": echo_port, "protocol": "tcp", "exclusive": True},
    )
    assert r.status_code == 201, r.text
    a.wait_agent("gpu-1", status="tunnel")
    # The agent is on B: B stops dispatching to it within its sweep interval (documented), so
    # submit after three of them; submitting sooner raced B's sweep on a loaded machine.
    time.sleep(3 * float(FAST_TUNNELS["RUNYARD_TUNNEL_SWEEP_INTERVAL"]))
    task_id = a.run("sleep", {"seconds": 0})
    wait_until(lambda: a.task(task_id)["task_status"] == "pending", 5)
    # Still pending after the dispatcher had every chance (it is woken by the submit).
    assert a.task(task_id)["task_status"] == "pending"
    httpx.delete(f"{a.url}/api/v1/tunnels/{r.json()['id']}", headers=member).raise_for_status()
    done = a.wait_task(task_id, timeout=30)
    assert done["task_status"] == "completed"
    a.wait_agent("gpu-1", status="idle")


async def _held_session(url: str, tunnel_id: str, headers: dict[str, str], agent: Proc) -> str:
    ws_url = url.replace("http://", "ws://") + f"/api/v1/tunnels/{tunnel_id}/connect"
    async with connect(ws_url, additional_headers=headers) as ws:
        assert json.loads(await ws.recv()) == {"ok": True}
        await ws.send(b"ping")
        assert await ws.recv() == b"ping"
        agent.signal(9)  # killed mid-stream
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None
        return f"{closed.value.rcvd.code} {closed.value.rcvd.reason}"


def test_a_killed_agent_ends_the_session_with_a_message(pair: tuple[Stack, Stack, int]) -> None:
    a, b, echo_port = pair
    agent = b.start_agent("gpu-1", extra=["--tunnel-port", str(echo_port)])
    a.wait_agent("gpu-1")
    device = {"Authorization": f"Bearer {a.team.device_key}"}
    r = httpx.post(
        f"{a.url}/api/v1/agents/gpu-1/tunnels",
        headers=device,
        json={"port": echo_port, "protocol": "tcp"},
    )
    assert r.status_code == 201, r.text
    said = asyncio.run(_held_session(a.url, r.json()["id"], device, agent))
    assert said.startswith("4000") and "disconnected" in said, said
    wait_until(lambda: not a.agents()[0]["connected"], 30)
    r = httpx.post(
        f"{a.url}/api/v1/agents/gpu-1/tunnels",
        headers=device,
        json={"port": echo_port, "protocol": "tcp"},
    )
    assert (r.status_code, r.json()["error_code"]) == (409, "agent_not_connected")


async def _hold(url: str, tunnel_id: str, headers: dict[str, str], seconds: float) -> None:
    ws_url = url.replace("http://", "ws://") + f"/api/v1/tunnels/{tunnel_id}/connect"
    async with connect(ws_url, additional_headers=headers) as ws:
        assert json.loads(await ws.recv()) == {"ok": True}
        await asyncio.sleep(seconds)
        await ws.send(b"still here")
        assert await ws.recv() == b"still here"


@pytest.mark.parametrize(
    "pair",
    [{"RUNYARD_TUNNEL_IDLE_TIMEOUT": "2", "RUNYARD_TUNNEL_MAX_PER_AGENT": "2"}],
    indirect=True,
)
def test_idle_tunnels_close_and_the_limit_holds(pair: tuple[Stack, Stack, int]) -> None:
    a, b, echo_port = pair
    b.start_agent("gpu-1", extra=["--tunnel-port", str(echo_port)])
    a.wait_agent("gpu-1")
    device = {"Authorization": f"Bearer {a.team.device_key}"}
    api = f"{a.url}/api/v1"

    def open_() -> httpx.Response:
        body = {"port": echo_port, "protocol": "tcp"}
        return httpx.post(f"{api}/agents/gpu-1/tunnels", headers=device, json=body)

    used, idle = open_().json(), open_().json()
    r = open_()
    assert (r.status_code, r.json()["error_code"]) == (409, "tunnel_limit_reached")
    assert "RUNYARD_TUNNEL_MAX_PER_AGENT" in r.json()["error_message"]
    # A session keeps its tunnel open past the idle timeout; the unused one closes.
    asyncio.run(_hold(b.url, used["id"], device, 4.5))

    def status(tunnel: dict[str, str]) -> dict[str, str]:
        return dict(httpx.get(f"{api}/tunnels/{tunnel['id']}", headers=device).json())

    assert status(used)["tunnel_status"] == "open"
    closed = status(idle)
    assert closed["tunnel_status"] == "closed" and "without use" in closed["close_reason"]
    assert open_().status_code == 201  # room again


async def _half_closed_ws(url: str, tunnel_id: str, headers: dict[str, str], data: bytes) -> bytes:
    """Send ``data`` through the API's WebSocket, then the EOF message; read to the end."""
    ws_url = url.replace("http://", "ws://") + f"/api/v1/tunnels/{tunnel_id}/connect"
    async with connect(
        ws_url, additional_headers={**headers, "X-Runyard-Half-Close": "1"}, max_size=None
    ) as ws:
        assert json.loads(await ws.recv()) == {"ok": True, "half_close": True}
        await ws.send(data)
        await ws.send(json.dumps({"eof": True}))
        got = b""
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(message, str):  # the app shut its write side
                    assert json.loads(message) == {"eof": True}
                else:
                    got += message
        # The app closed after answering: a normal close (its EOF may come first).
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        return got


def test_a_shut_write_side_reaches_the_app_and_its_answer_still_comes_back(
    pair: tuple[Stack, Stack, int],
) -> None:
    """TCP half-close: the client sends its request and shuts its write side (``nc -N``); the
    app on the agent reads to EOF and only then answers, through the hop and the CLI."""
    a, b, echo_port = pair
    eof_port = free_port()
    eof_app = Proc(
        "eof-app", python_cmd("-m", "tests.support.echo", str(free_port()), str(eof_port)),
        a.env, a.logs,
    )  # fmt: skip
    try:
        b.start_agent("gpu-1", extra=["--tunnel-port", str(eof_port)])
        a.wait_agent("gpu-1")
        device = {"Authorization": f"Bearer {a.team.device_key}"}
        body = {"port": eof_port, "protocol": "tcp"}
        r = httpx.post(f"{a.url}/api/v1/agents/gpu-1/tunnels", headers=device, json=body)
        assert r.status_code == 201, r.text
        tunnel_id = r.json()["id"]
        request = os.urandom(2 * 1024 * 1024 + 5)  # more than a window each way
        for url in (b.url, a.url):  # the agent's own server, then through the hop
            got = asyncio.run(_half_closed_ws(url, tunnel_id, device, request))
            assert got == f"got {len(request)}:".encode() + request

        local = free_port()
        cli = Proc(
            "tunnel-cli",
            python_cmd("-m", "runyard", "tunnel", "open", "gpu-1", "--port", str(eof_port),
                       "--local-port", str(local)),
            {**a.env, "RUNYARD_URL": a.url, "RUNYARD_API_KEY": a.team.device_key}, a.logs,
        )  # fmt: skip
        wait_until(lambda: "Forwarding 127.0.0.1:" in cli.log(), 30)
        with socket.create_connection(("127.0.0.1", local), timeout=30) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            conn.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := conn.recv(65536):  # to the EOF the app's close becomes
                answer += chunk
        assert answer == b"got 18:GET / HTTP/1.0\r\n\r\n"
        cli.signal(signal.SIGINT)
        assert cli.wait(20) == 0, cli.log()
    finally:
        eof_app.stop()
