"""The model library pushed to agents (``library.sync.v1``): on every change (register, update,
disable, delete) to the team's agents that sync it, never to another team's or to agents that do
not sync; on PostgreSQL also to agents connected to another server process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from runyard.auth.repository import AuthRepository
from runyard.auth.security import sha256_hex
from runyard.gateway.registry import Connection, Gateway
from tests.integration.api.test_models_library import BODY, model, uploaded
from tests.support.app import Harness, Team, make_settings, running_app


class Socket:
    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self.arrived.set()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.application_state = WebSocketState.DISCONNECTED

    async def next_set(self) -> list[dict[str, Any]]:
        await asyncio.wait_for(self.arrived.wait(), 30)
        self.arrived.clear()
        frame = self.sent[-1]
        assert frame["type"] == "library.sync.v1"
        return list(frame["models"])


async def real_key_id(services: Any, team: Team) -> str:
    """The id of the team's agent key: a connection of a made-up key is closed by the next
    key recheck of a server with background loops (then every send to it fails, silently)."""
    async with services.db.session() as session:
        key = await AuthRepository(session).api_key_by_hash(sha256_hex(team.p.agent_key))
    assert key is not None
    return str(key.id)


def attach(
    gateway: Gateway, team_id: str, agent_id: str, *, syncs: bool = True, key_id: str = "key"
) -> Socket:
    sock = Socket()
    gateway.add(
        Connection(
            websocket=sock,  # type: ignore[arg-type]
            team_id=team_id,
            agent_id=agent_id,
            key_id=key_id,
            connection_id=f"conn-{agent_id}",
            labels={"comfyui"},
            capacity=1,
            library_sync=syncs,
        )
    )
    return sock


async def test_every_change_reaches_the_teams_syncing_agents(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    gateway = harness.app.state.services.gateway
    mine = attach(gateway, team_a.id, "gpu-1")
    silent = attach(gateway, team_a.id, "old-agent", syncs=False)
    theirs = attach(gateway, team_b.id, "gpu-b")

    key = await uploaded(harness, team_a)
    created = await harness.client.post("/api/v1/models", headers=team_a.auth(), json=model(key))
    assert created.status_code == 201, created.text
    row = created.json()
    [synced] = await mine.next_set()
    assert synced["model_id"] == row["id"]
    assert (synced["model_type"], synced["model_path"]) == ("loras", "detail/tweaker.safetensors")
    assert synced["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert synced["size_bytes"] == len(BODY)
    fetched = await harness.client.get(synced["download_url"])  # the embedded store's GET
    assert fetched.status_code == 200 and fetched.content == BODY

    moved = await harness.client.put(
        f"/api/v1/models/{row['id']}", headers=team_a.auth(), json={"model_path": "b.safetensors"}
    )
    assert moved.status_code == 200
    assert [m["model_path"] for m in await mine.next_set()] == ["b.safetensors"]
    await harness.client.put(
        f"/api/v1/models/{row['id']}", headers=team_a.auth(), json={"model_status": "disabled"}
    )
    assert await mine.next_set() == []
    await harness.client.put(
        f"/api/v1/models/{row['id']}", headers=team_a.auth(), json={"model_status": "active"}
    )
    assert len(await mine.next_set()) == 1
    deleted = await harness.client.delete(f"/api/v1/models/{row['id']}", headers=team_a.auth())
    assert deleted.status_code == 204
    assert await mine.next_set() == []

    # A refused change pushes nothing; other teams and non-syncing agents never hear of it.
    refused = await harness.client.put(
        f"/api/v1/models/{row['id']}", headers=team_a.auth(), json={"model_status": "disabled"}
    )
    assert refused.status_code == 404
    await asyncio.sleep(0.2)
    assert not mine.arrived.is_set()
    assert silent.sent == [] and theirs.sent == []


@contextlib.asynccontextmanager
async def two_processes(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, Team, Socket]]:
    """Two apps on one PostgreSQL and one embedded store, both listening; a team made through
    the first, and a syncing stand-in agent of it connected to the second."""
    async with (
        running_app(make_settings(db_url, tmp_path / "data"), background=True) as a,
        running_app(make_settings(db_url, tmp_path / "data"), background=True) as b,
    ):
        services_a, services_b = a.app.state.services, b.app.state.services
        assert services_a.listener is not None and services_b.listener is not None
        await asyncio.wait_for(services_a.listener.connected.wait(), 30)
        await asyncio.wait_for(services_b.listener.connected.wait(), 30)
        team = await a.team("alpha", "alice@example.com")
        key_id = await real_key_id(services_b, team)
        yield a, team, attach(services_b.gateway, team.id, "gpu-on-b", key_id=key_id)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_change_reaches_agents_of_another_server_process(
    db_url: str, tmp_path: Path
) -> None:
    async with two_processes(db_url, tmp_path) as (a, team, on_b):
        key = await uploaded(a, team)
        created = await a.client.post("/api/v1/models", headers=team.auth(), json=model(key))
        assert created.status_code == 201, created.text
        [synced] = await on_b.next_set()  # registered through process a, sent by process b
        assert synced["model_id"] == created.json()["id"]


def packages_of(sock: Socket) -> list[dict[str, Any]]:
    return list(sock.sent[-1]["node_packages"])


async def test_node_package_changes_reach_the_teams_syncing_agents(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    from tests.integration.api.test_node_packages import GOOD

    gateway = harness.app.state.services.gateway
    mine = attach(gateway, team_a.id, "gpu-1")
    theirs = attach(gateway, team_b.id, "gpu-b")
    key = await uploaded(harness, team_a, GOOD)
    created = await harness.client.post(
        "/api/v1/node-packages", headers=team_a.auth(), json={"file_key": key}
    )
    assert created.status_code == 201, created.text
    row = created.json()
    assert await mine.next_set() == []  # no models; the package travels beside them
    [synced] = packages_of(mine)
    assert (synced["package_id"], synced["name"], synced["size_bytes"]) == (
        row["id"],
        "my_nodes",
        len(GOOD),
    )
    assert synced["sha256"] == hashlib.sha256(GOOD).hexdigest()
    fetched = await harness.client.get(synced["download_url"])
    assert fetched.status_code == 200 and fetched.content == GOOD
    await harness.client.put(
        f"/api/v1/node-packages/{row['id']}",
        headers=team_a.auth(),
        json={"package_status": "disabled"},
    )
    await mine.next_set()
    assert packages_of(mine) == []
    await harness.client.put(
        f"/api/v1/node-packages/{row['id']}", headers=team_a.auth(), json={"name": "renamed"}
    )
    await mine.next_set()
    assert packages_of(mine) == []  # still disabled
    await harness.client.put(
        f"/api/v1/node-packages/{row['id']}",
        headers=team_a.auth(),
        json={"package_status": "active"},
    )
    await mine.next_set()
    assert [p["name"] for p in packages_of(mine)] == ["renamed"]
    await harness.client.delete(f"/api/v1/node-packages/{row['id']}", headers=team_a.auth())
    await mine.next_set()
    assert packages_of(mine) == [] and theirs.sent == []


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_node_package_reaches_agents_of_another_server_process(
    db_url: str, tmp_path: Path
) -> None:
    from tests.integration.api.test_node_packages import GOOD

    async with two_processes(db_url, tmp_path) as (a, team, on_b):
        key = await uploaded(a, team, GOOD)
        created = await a.client.post(
            "/api/v1/node-packages", headers=team.auth(), json={"file_key": key}
        )
        assert created.status_code == 201, created.text
        await on_b.next_set()  # registered through process a, sent by process b
        assert [p["package_id"] for p in packages_of(on_b)] == [created.json()["id"]]
