"""The team's model library synced to its agents, end to end with real processes: `runyard
serve`, two `runyard agent`s each supervising a ComfyUI stand-in, the CLI uploading the model.
The store's answers pass through a slow proxy (the URLs the server hands out point at it), so
the sync is seen in progress through `GET /agents` and one agent is killed mid-download: started
again, it resumes (the bytes already on disk are not fetched again)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from runyard_client import Client
from tests.acceptance.conftest import Stack
from tests.acceptance.test_comfyui import _pid_of
from tests.support.processes import Proc, python_cmd, wait_until
from tests.support.s3 import free_port
from tests.support.slow_proxy import SlowProxy

SIZE = 6 * 1024 * 1024
RATE = 1024 * 1024  # bytes a second per download: a 6-second sync
MODEL_PATH = "sync/tiny.safetensors"
GRAPH = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": MODEL_PATH}},
    "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
}


def slow_store(stack: Stack) -> SlowProxy:
    """Restart the server so that the download URLs it signs go through a slow proxy."""
    assert stack.server is not None
    stack.server.stop()
    if stack.leg == "e2e-sqlite-local":
        proxy = SlowProxy(int(stack.url.rsplit(":", 1)[1]), RATE).start()
        stack.start_server(RUNYARD_PUBLIC_URL=proxy.url)
    else:
        proxy = SlowProxy(int(stack.env["RUNYARD_S3_ENDPOINT"].rsplit(":", 1)[1]), RATE).start()
        stack.start_server(RUNYARD_S3_PUBLIC_ENDPOINT=proxy.url)
    return proxy


def comfy_agent(stack: Stack, agent_id: str, comfy_dir: Path, port: int) -> Proc:
    command = shlex.join(
        python_cmd("-m", "runyard_testing.comfyui_standin", "--port", "{port}")
        + ["--data-dir", str(comfy_dir)]
    ).replace("'{port}'", "{port}")
    return stack.start_agent(
        agent_id,
        labels="gpu,comfyui",
        extra=[
            "--comfyui-url",
            f"http://127.0.0.1:{port}",
            "--comfyui-command",
            command,
            "--comfyui-dir",
            str(comfy_dir),
        ],
    )


def agent(stack: Stack, agent_id: str) -> dict[str, Any]:
    return next(a for a in stack.agents() if a["agent_id"] == agent_id)


def upload_with_cli(stack: Stack, file: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(
        HOME=str(stack.logs),
        XDG_CONFIG_HOME=str(stack.logs / "config"),
        RUNYARD_URL=stack.url,
        RUNYARD_API_KEY=stack.team.device_key,
    )
    done = subprocess.run(
        [sys.executable, "-m", "runyard", "models", "upload", str(file), "--type", "checkpoints"]
        + ["--path", MODEL_PATH, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_library_model_reaches_two_agents_is_used_and_leaves_when_disabled(
    stack: Stack,
) -> None:
    proxy = slow_store(stack)
    try:
        dirs = {name: stack.logs / f"comfy-{name}" for name in ("gpu-a", "gpu-b")}
        ports = {name: free_port() for name in dirs}
        procs = {}
        for name, comfy_dir in dirs.items():
            comfy_dir.mkdir()
            procs[name] = comfy_agent(stack, name, comfy_dir, ports[name])
        for name in dirs:
            stack.wait_agent(name, timeout=60)
            assert agent(stack, name)["sync_phase"] == "idle"  # the (empty) set is in place

        data = os.urandom(SIZE)
        file = stack.logs / "tiny.safetensors"
        file.write_bytes(data)
        row = upload_with_cli(stack, file)
        assert row["sha256"] == hashlib.sha256(data).hexdigest()

        # Progress shows in GET /agents while both download.
        seen = wait_until(
            lambda: (
                (a := agent(stack, "gpu-a"))["sync_phase"] == "syncing"
                and 0 < a["sync_percent"] < 100
                and a
            ),
            30,
        )
        assert "downloading checkpoints/sync/tiny.safetensors" in seen["sync_detail"]  # type: ignore[index]

        # gpu-b is killed mid-download (with its ComfyUI) and started again: it resumes.
        blobs = dirs["gpu-b"] / ".runyard-library" / "blobs"
        part = blobs / f"{row['sha256']}.part"
        wait_until(lambda: part.is_file() and part.stat().st_size > SIZE // 4, 30)
        procs["gpu-b"].signal(signal.SIGKILL)
        procs["gpu-b"].wait(10)
        standin = _pid_of(str(dirs["gpu-b"]))
        if standin is not None:
            os.kill(standin, signal.SIGKILL)
        on_disk = part.stat().st_size
        assert 0 < on_disk < SIZE
        before = proxy.sent
        wait_until(lambda: agent(stack, "gpu-a")["sync_phase"] == "idle", 30)
        served_to_a = proxy.sent - before  # what gpu-a still fetched meanwhile
        comfy_agent(stack, "gpu-b", dirs["gpu-b"], ports["gpu-b"])
        for name in dirs:
            wait_until(
                lambda name=name: (
                    (a := agent(stack, name))["sync_phase"] == "idle"
                    and a["synced_models"] == [row["id"]]
                    and a["agent_status"] == "idle"
                ),
                60,
            )
        resumed = proxy.sent - before - served_to_a
        assert resumed <= SIZE - on_disk + 4096  # headers aside, only the missing bytes
        with Client(stack.url, stack.team.integration_key, use_profile=False) as client:
            seen_by_sdk = {
                a.agent_id: (a.sync_phase, a.synced_models) for a in client.agents.list().items
            }
        assert seen_by_sdk == {name: ("idle", [row["id"]]) for name in dirs}

        for name, comfy_dir in dirs.items():
            placed = comfy_dir / "models" / "checkpoints" / MODEL_PATH
            assert hashlib.sha256(placed.read_bytes()).hexdigest() == row["sha256"]
            listed = httpx.get(f"http://127.0.0.1:{ports[name]}/models/checkpoints").json()
            assert MODEL_PATH in listed

        # A workflow naming the library model runs (on either agent).
        imported = httpx.post(
            f"{stack.url}/api/v1/workflows/import",
            headers=stack.session_headers(),
            json={
                "workflow_slug": "uses-library",
                "tool_type": "comfyui",
                "required_labels": ["comfyui"],
                "workflow_json": {
                    "graph": GRAPH,
                    "required_models": [{"model_type": "checkpoints", "model_path": MODEL_PATH}],
                },
            },
        )
        assert imported.status_code == 201, imported.text
        task_id = stack.run("uses-library", {})
        done = stack.wait_task(task_id, timeout=60)
        assert done["task_status"] == "completed", done
        result = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers())
        assert result.json()["task_output"]["values"] == {"2.text.0": f"<MODEL {MODEL_PATH}>"}

        # Disabled: gone from both agents' models folders.
        disabled = httpx.put(
            f"{stack.url}/api/v1/models/{row['id']}",
            headers=stack.session_headers(),
            json={"model_status": "disabled"},
        )
        assert disabled.status_code == 200, disabled.text
        for name, comfy_dir in dirs.items():
            placed = comfy_dir / "models" / "checkpoints" / MODEL_PATH
            wait_until(lambda placed=placed: not placed.exists(), 30)
            wait_until(lambda name=name: agent(stack, name)["synced_models"] == [], 30)
    finally:
        proxy.stop()


NODE_INIT = """from .greeting import greet


class RunyardExampleGreeting:
    CATEGORY = "runyard"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"name": ("STRING", {"default": "world"})}}

    def run(self, name):
        return (greet(name),)


NODE_CLASS_MAPPINGS = {"RunyardExampleGreeting": RunyardExampleGreeting}
"""
NODE_GRAPH = {
    "1": {"class_type": "RunyardExampleGreeting", "inputs": {"name": "runyard"}},
    "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
}


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(
        HOME=str(stack.logs),
        XDG_CONFIG_HOME=str(stack.logs / "config"),
        RUNYARD_URL=stack.url,
        RUNYARD_API_KEY=stack.team.device_key,
    )
    return subprocess.run(
        [sys.executable, "-m", "runyard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def import_greeting(stack: Stack, slug: str) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/api/v1/workflows/import",
        headers=stack.session_headers(),
        json={
            "workflow_slug": slug,
            "tool_type": "comfyui",
            "required_labels": ["comfyui"],
            "workflow_json": {"graph": NODE_GRAPH},
        },
    )


def test_a_custom_node_package_is_synced_loaded_used_and_removed(stack: Stack) -> None:
    comfy_dir = stack.logs / "comfy-nodes"
    comfy_dir.mkdir()
    port = free_port()
    comfy_agent(stack, "gpu-nodes", comfy_dir, port)
    stack.wait_agent("gpu-nodes", timeout=60)
    starts = comfy_dir / "standin-starts.log"
    wait_until(lambda: starts.is_file(), 30)
    # Before the package: pre-flight refuses a workflow using its node class.
    refused = import_greeting(stack, "greeting-early")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error_code"] == "comfyui_requirements_missing"
    assert "RunyardExampleGreeting" in refused.json()["error_message"]

    package = stack.logs / "runyard_example_nodes"
    package.mkdir()
    (package / "__init__.py").write_text(NODE_INIT)
    (package / "greeting.py").write_text("def greet(name):\n    return f'hello, {name}'\n")
    (package / "requirements.txt").write_text("pillow\n")  # installed already: pip keeps it
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "junk.pyc").write_bytes(b"left out")
    uploaded = cli(stack, "nodes", "upload", str(package), "--json")
    assert uploaded.returncode == 0, uploaded.stderr
    row = json.loads(uploaded.stdout)
    assert (row["name"], row["package_status"], row["file_count"]) == (
        "runyard_example_nodes",
        "active",
        3,
    )

    # The agent unpacks it, installs its requirements, restarts the stand-in once; the node
    # class is in /object_info and reaches pre-flight.
    placed = comfy_dir / "custom_nodes" / "runyard_example_nodes"
    wait_until(lambda: (placed / "greeting.py").is_file(), 60)
    assert not (placed / "__pycache__").exists()
    object_info = f"http://127.0.0.1:{port}/object_info"

    def classes() -> set[str] | None:
        try:
            return set(httpx.get(object_info, timeout=5).json())
        except httpx.HTTPError:
            return None  # restarting

    wait_until(lambda: "RunyardExampleGreeting" in (classes() or ()), 60)
    wait_until(lambda: agent(stack, "gpu-nodes")["sync_phase"] == "idle", 60)
    assert len(starts.read_text().splitlines()) == 2  # started, then restarted once
    assert agent(stack, "gpu-nodes")["synced_node_packages"] == [row["id"]]
    imported = wait_until(
        lambda: (r := import_greeting(stack, "greeting")).status_code == 201 and r, 60, 1.0
    )
    assert imported
    task_id = stack.run("greeting", {})
    done = stack.wait_task(task_id, timeout=60)
    assert done["task_status"] == "completed", done
    result = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers())
    assert result.json()["task_output"]["values"] == {"2.text.0": "hello, runyard"}
    listed = cli(stack, "nodes", "list", "--json")
    assert listed.returncode == 0 and row["id"] in listed.stdout

    # Disabled: only its folder leaves custom_nodes/, ComfyUI restarts once more, the class goes.
    assert cli(stack, "nodes", "disable", row["id"]).returncode == 0
    wait_until(lambda: not placed.exists(), 60)
    assert (comfy_dir / "custom_nodes" / "example_node.py.example").is_file()
    wait_until(lambda: len(starts.read_text().splitlines()) == 3, 60)
    wait_until(lambda: agent(stack, "gpu-nodes")["sync_phase"] == "idle", 60)
    wait_until(
        lambda: (c := classes()) and "PreviewAny" in c and "RunyardExampleGreeting" not in c, 60
    )
    again = wait_until(
        lambda: (r := import_greeting(stack, "greeting-late")).status_code == 422 and r, 60, 1.0
    )
    assert again
