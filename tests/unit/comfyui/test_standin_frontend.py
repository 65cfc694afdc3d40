"""The stand-in answers what ComfyUI's real frontend calls, and refuses what real ComfyUI
refuses: a loopback Host with an Origin of another host (its origin-only middleware), which is
why the tunnel presents both as 127.0.0.1:PORT."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from runyard_testing.comfyui_standin.app import StandinOptions, create_app
from runyard_testing.comfyui_standin.frontend import BUNDLE_BYTES


def test_the_frontends_calls_and_the_origin_check(tmp_path: Path) -> None:
    app = create_app(StandinOptions(data_dir=tmp_path))
    with TestClient(app, base_url="http://127.0.0.1:8188") as client:
        same = {"Origin": "http://127.0.0.1:8188"}
        assert client.post("/api/settings/Comfy.X", json=True, headers=same).status_code == 200
        assert client.get("/api/settings").json() == {"Comfy.X": True}
        assert client.get("/api/userdata", params={"dir": "workflows"}).status_code == 404
        assert len(client.get("/assets/index.js").content) == BUNDLE_BYTES
        assert client.get("/assets/part-3.mjs").text.startswith("export const ok = true")
        other = {"Origin": "http://localhost:8710"}  # what a proxy that kept Origin would send
        assert client.get("/api/system_stats", headers=other).status_code == 403
        assert client.get("/api/system_stats", headers={"Origin": "http://127.0.0.1"}).is_success
    remote = create_app(StandinOptions(data_dir=tmp_path))
    with TestClient(remote, base_url="http://tunnels.example.com") as client:
        assert client.get("/api/system_stats", headers=other).is_success  # not loopback
