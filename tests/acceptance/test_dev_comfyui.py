"""`runyard dev --comfyui-url` attaches a ComfyUI to the local agent (labels cpu and comfyui).
With that ComfyUI down, the ComfyUI example's task says so in its waiting_reason, in the
agent's own words, as a newcomer would see it (real processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.processes import Proc, python_cmd, wait_http, wait_until
from tests.support.s3 import free_port

EXAMPLE = Path(__file__).parents[2] / "examples" / "comfyui-invert.yaml"


def test_dev_with_a_comfyui_url_that_is_down(tmp_path: Path) -> None:
    port, comfy_port = free_port(), free_port()  # nothing listens on comfy_port
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    proc = Proc(
        "runyard-dev",
        python_cmd(
            "-m", "runyard", "dev", "--data-dir", str(tmp_path / "data"), "--port", str(port),
            "--comfyui-url", f"http://127.0.0.1:{comfy_port}",
        ),
        env,
        tmp_path,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", proc=proc)
        creds = json.loads((tmp_path / "data" / "credentials.json").read_text())
        key = {"Authorization": f"Bearer {creds['integration_key']}"}
        session = httpx.post(
            base + "/api/v1/auth/login",
            json={"email_address": creds["email_address"], "user_password": creds["user_password"]},
        ).json()["access_token"]

        def agent() -> dict[str, Any] | None:
            listed = httpx.get(base + "/api/v1/r/agents", headers=key).json()["agent_list"]
            return next((a for a in listed if a["connected"]), None)

        found = wait_until(agent, timeout=60)
        assert isinstance(found, dict) and set(found["agent_labels"]) == {"cpu", "comfyui"}

        definition = yaml.safe_load(EXAMPLE.read_text())
        imported = httpx.post(
            base + "/api/v1/workflows/import",
            headers={"Authorization": f"Bearer {session}"},
            json=definition,
        )
        assert imported.status_code == 201, imported.text
        presigned = httpx.post(
            base + "/api/v1/r/files/presign",
            headers=key,
            json={"file_name": "a.png", "file_size": 8, "content_type": "image/png"},
        ).json()
        put = httpx.put(presigned["upload_url"], content=b"\x89PNG1234",
                        headers=presigned.get("upload_headers") or {})  # fmt: skip
        assert put.status_code in (200, 201, 204), put.text
        run = httpx.post(
            base + "/api/v1/r/workflows/slug/comfyui-invert/run",
            headers=key,
            json={"parameters": {"input_image": presigned["file_key"]}},
        )
        assert run.status_code == 202, run.text
        task = httpx.get(f"{base}/api/v1/r/tasks/{run.json()['task_id']}", headers=key).json()
        reason = task["waiting_reason"]
        assert reason["code"] == "agents_unhealthy", reason
        assert f"127.0.0.1:{comfy_port}" in reason["message"] and "local-agent" in reason["message"]
    finally:
        code = proc.stop()
        assert code in (0, -15), proc.log()[-3000:]
