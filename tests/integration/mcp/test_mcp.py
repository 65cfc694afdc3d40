"""The MCP server at /mcp on a real server and port, with the official MCP Python SDK as the
client and a real agent process running the tasks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from runyard.app import create_app
from runyard.bootstrap import Provisioned
from runyard_client import Client
from tests.support.app import make_settings
from tests.support.live import live_server, live_settings, provision_team
from tests.support.processes import Proc, python_cmd, wait_until


@dataclass
class Stack:
    url: str
    team: Provisioned
    other: Provisioned
    work: Path

    @property
    def mcp(self) -> str:
        return self.url + "/mcp"

    @contextmanager
    def agent(self) -> Iterator[Proc]:
        """A real agent process of the team (labels cpu), connected."""
        env = {"RUNYARD_URL": self.url, "RUNYARD_AGENT_KEY": self.team.agent_key}
        args = ["--agent-id", "mcp-agent", "--labels", "cpu", "--work-dir", str(self.work)]
        proc = Proc("agent", python_cmd("-m", "runyard_agent", *args), env, self.work)
        try:
            headers = {"Authorization": f"Bearer {self.team.integration_key}"}
            wait_until(
                lambda: httpx.get(
                    f"{self.url}/api/v1/r/agents", headers=headers, timeout=30
                ).json()["agent_list"],
                60,
            )
            yield proc
        finally:
            proc.stop()


@pytest.fixture
def stack(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    settings, port = live_settings(make_settings, db_url, tmp_path / "data")
    team = provision_team(settings, "mcp@example.com")
    other = provision_team(settings, "other@example.com")
    (tmp_path / "work").mkdir()
    with live_server(create_app(settings), port, settings) as url:
        yield Stack(url, team, other, tmp_path / "work")


@asynccontextmanager
async def mcp_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, name: str, **arguments: Any) -> tuple[bool, Any]:
    result = await session.call_tool(name, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == result.structured_content
    return bool(result.is_error), result.structured_content


async def test_an_ai_client_uploads_runs_waits_and_reads_the_result(stack: Stack) -> None:
    async with mcp_session(stack.mcp, stack.team.integration_key) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {
            "list_workflows",
            "get_workflow",
            "run_workflow_by_slug",
            "get_task",
            "wait_task",
            "get_task_result",
            "cancel_task",
            "list_agents",
            "list_models",
            "list_node_packages",
            "presign_upload",
        }
        # No agent connected yet: the workflows are named as waiting for one, not described.
        idle = tools["run_workflow_by_slug"]
        assert "No connected agent has the labels of these" in (idle.description or "")
        assert "input_image" not in (idle.description or "")
        assert "allOf" not in idle.input_schema
        with stack.agent():
            tools = {t.name: t for t in (await session.list_tools()).tools}
        run_tool = tools["run_workflow_by_slug"]
        assert "img2img" in (run_tool.description or "") and "input_image" in (
            run_tool.description or ""
        )
        assert "No connected agent" not in (run_tool.description or "")
        branches = {
            b["if"]["properties"]["workflow_slug"]["const"]: b
            for b in run_tool.input_schema["allOf"]
        }
        img2img = branches["img2img"]["then"]["properties"]["parameters"]
        assert img2img["required"] == ["input_image"]
        assert img2img["properties"]["prompt"]["enum"][0] == "enhance"
        strength = img2img["properties"]["strength"]
        assert (strength["type"], strength["minimum"], strength["maximum"]) == ("number", 0, 1)
        assert strength["default"] == 0.5

        failed, listed = await call(session, "list_workflows")
        assert not failed
        slugs = {w["workflow_slug"] for w in listed["workflow_list"]}
        assert {"img2img", "echo"} <= slugs
        assert all("workflow_json" not in w for w in listed["workflow_list"])

        data = b"hello from an AI client\n" * 100
        failed, presigned = await call(
            session,
            "presign_upload",
            file_name="note.txt",
            file_size=len(data),
            content_type="text/plain",
        )
        assert not failed, presigned
        put = httpx.put(presigned["upload_url"], content=data, headers=presigned["upload_headers"])
        assert put.status_code == 200, put.text

        with stack.agent():
            failed, agents = await call(session, "list_agents")
            assert not failed and agents["agent_list"][0]["agent_id"] == "mcp-agent"
            failed, run = await call(
                session,
                "run_workflow_by_slug",
                workflow_slug="echo",
                parameters={"input_file": presigned["file_key"]},
            )
            assert not failed, run
            task_id = run["task_id"]
            failed, waited = await call(session, "wait_task", task_id=task_id, timeout_seconds=60)
            assert not failed and waited["finished"], waited
            assert waited["task"]["task_status"] == "completed", waited

        failed, result = await call(session, "get_task_result", task_id=task_id)
        assert not failed and result["task_status"] == "completed"
        assert httpx.get(result["download_url"]).content == data

        failed, bad = await call(
            session, "run_workflow_by_slug", workflow_slug="img2img", parameters={"strength": 3}
        )
        assert failed and bad["error_code"] == "invalid_parameters"
        assert {e["parameter"] for e in bad["errors"]} == {"input_image", "strength"}

    async with mcp_session(stack.mcp, stack.other.integration_key) as other:
        _, theirs = await call(other, "list_workflows")
        ours = {w["id"] for w in listed["workflow_list"]}
        assert not ours & {w["id"] for w in theirs["workflow_list"]}
        for tool in ("get_task", "get_task_result", "cancel_task", "wait_task"):
            failed, body = await call(other, tool, task_id=task_id)
            assert failed and body["error_code"] == "task_not_found", (tool, body)
        failed, body = await call(other, "get_workflow", workflow_id=next(iter(ours)))
        assert failed and body["error_code"] == "workflow_not_found"
        failed, body = await call(
            other,
            "run_workflow_by_slug",
            workflow_slug="echo",
            parameters={"input_file": presigned["file_key"]},
        )
        assert failed and body["error_code"] == "invalid_parameters"  # their key is unknown here
        _, agents = await call(other, "list_agents")
        assert agents["agent_list"] == []
        _, models = await call(other, "list_models")
        assert models["model_list"] == []  # never another team's models
        _, packages = await call(other, "list_node_packages")
        assert packages["node_package_list"] == []


async def test_list_models_shows_the_teams_library(stack: Stack) -> None:
    lora = stack.work / "style.safetensors"
    lora.write_bytes(b"lora bytes" * 100)
    with Client(stack.url, stack.team.device_key, use_profile=False) as client:
        added = client.upload_model(lora, "loras", "style/v1.safetensors")
    async with mcp_session(stack.mcp, stack.team.integration_key) as session:
        failed, listed = await call(session, "list_models", model_status="active")
        assert not failed, listed
        (row,) = listed["model_list"]
        assert (row["id"], row["model_path"], row["sha256"]) == (
            added.id,
            "style/v1.safetensors",
            added.sha256,
        )
        assert listed["page_meta"]["total_count"] == 1
        failed, bad = await call(session, "list_models", model_status="gone")
        assert failed and bad["error_code"] == "invalid_request"


async def test_list_node_packages_shows_the_teams_packages(stack: Stack) -> None:
    folder = stack.work / "mcp_nodes"
    folder.mkdir()
    (folder / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    with Client(stack.url, stack.team.device_key, use_profile=False) as client:
        added = client.upload_node_package(folder)
    async with mcp_session(stack.mcp, stack.team.integration_key) as session:
        failed, listed = await call(session, "list_node_packages", package_status="active")
        assert not failed, listed
        (row,) = listed["node_package_list"]
        assert (row["id"], row["name"], row["sha256"]) == (added.id, "mcp_nodes", added.sha256)
        failed, bad = await call(session, "list_node_packages", package_status="gone")
        assert failed and bad["error_code"] == "invalid_request"


@pytest.mark.parametrize("kind", ["session", "device", "agent", "none", "wrong"])
def test_only_integration_keys_reach_the_mcp_server(stack: Stack, kind: str) -> None:
    token = {
        "device": stack.team.device_key,
        "agent": stack.team.agent_key,
        "wrong": "sk-not-a-key",
        "none": None,
    }.get(kind)
    if kind == "session":
        login = httpx.post(
            stack.url + "/api/v1/auth/login",
            json={"email_address": "mcp@example.com", "user_password": "live-password"},
        )
        token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx.post(
        stack.mcp,
        timeout=30,
        json=body,
        headers={**headers, "Accept": "application/json, text/event-stream"},
    )
    assert r.status_code == (401 if kind in ("none", "wrong") else 403), r.text
    assert set(r.json()) >= {"error_message", "error_code", "request_id"}
