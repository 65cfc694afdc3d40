"""Custom node packages on an agent (``ModelLibrary`` with ``NodePackages``), against a store
behind ``httpx.MockTransport``: unpacked into custom_nodes/<name>/, ComfyUI restarted once per
change, removed when they leave the set (only the folders the sync made), a partial archive
resumed, requirements installed with the torch packages pinned, a failed install reported."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import httpx

from runyard_agent.runtimes.comfyui.library import ModelLibrary
from runyard_agent.runtimes.comfyui.node_packages import NodePackages
from runyard_protocol import SyncedNodePackage
from tests.unit.agent.test_agent_library import Store


def archive(top: str, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


NODES = archive("my_nodes", {"__init__.py": b"NODE_CLASS_MAPPINGS = {}\n", "util.py": b"X = 1\n"})
WITH_REQS = archive(
    "needs_pip", {"__init__.py": b"NODE_CLASS_MAPPINGS = {}\n", "requirements.txt": b"nosuchpkg\n"}
)


def package(name: str, data: bytes, key: str) -> SyncedNodePackage:
    return SyncedNodePackage(
        package_id=f"id-{name}",
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        download_url=f"http://store.test/{key}",
    )


class Reloads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> bool:
        self.count += 1
        return True


def library(tmp_path: Path, store: Store, python: str | None = None) -> ModelLibrary:
    comfy = tmp_path / "comfy"
    http = httpx.AsyncClient(transport=httpx.MockTransport(store.handler))
    packages = NodePackages(comfy, comfy / ".runyard-library", python)
    lib = ModelLibrary(comfy / "models", 10**9, http=http, packages=packages)
    return lib


async def test_unpacked_restarted_once_and_removed_when_it_leaves(tmp_path: Path) -> None:
    store = Store({"nodes": NODES})
    lib = library(tmp_path, store)
    reloads = Reloads()
    lib.reload = reloads
    custom = tmp_path / "comfy" / "custom_nodes"
    (custom / "theirs").mkdir(parents=True)
    (custom / "theirs" / "__init__.py").write_text("# not the sync's")
    await lib.sync([], [package("my_nodes", NODES, "nodes")])
    assert (custom / "my_nodes" / "util.py").read_bytes() == b"X = 1\n"
    assert reloads.count == 1
    report = lib.report()
    assert report["sync_phase"] == "idle" and report["node_packages"] == ["my_nodes"]
    assert report["node_package_ids"] == ["id-my_nodes"]
    assert sorted(p.name for p in custom.iterdir()) == ["my_nodes", "theirs"]  # no temp left
    # the same set again: nothing fetched, no restart
    fetched = lib.downloaded
    await lib.sync([], [package("my_nodes", NODES, "nodes")])
    assert (lib.downloaded, reloads.count) == (fetched, 1)
    # it leaves the set: its folder goes (only it), ComfyUI restarts once more
    await lib.sync([], [])
    assert not (custom / "my_nodes").exists() and (custom / "theirs" / "__init__.py").exists()
    assert reloads.count == 2 and lib.report()["node_packages"] == []


async def test_a_folder_the_sync_did_not_make_is_never_touched(tmp_path: Path) -> None:
    store = Store({"nodes": NODES})
    lib = library(tmp_path, store)
    mine = tmp_path / "comfy" / "custom_nodes" / "my_nodes"
    mine.mkdir(parents=True)
    (mine / "__init__.py").write_text("# hand-installed")
    await lib.sync([], [package("my_nodes", NODES, "nodes")])
    report = lib.report()
    assert (
        report["sync_phase"] == "failed" and "did not make is in the way" in report["sync_detail"]
    )
    assert (mine / "__init__.py").read_text() == "# hand-installed"
    await lib.sync([], [])
    assert (mine / "__init__.py").read_text() == "# hand-installed"


async def test_a_partial_archive_is_resumed(tmp_path: Path) -> None:
    store = Store({"nodes": NODES})
    lib = library(tmp_path, store)
    blobs = tmp_path / "comfy" / ".runyard-library" / "blobs"
    blobs.mkdir(parents=True)
    sha = hashlib.sha256(NODES).hexdigest()
    (blobs / f"{sha}.part").write_bytes(NODES[:100])
    await lib.sync([], [package("my_nodes", NODES, "nodes")])
    assert store.ranges == ["bytes=100-"] and lib.downloaded == len(NODES) - 100
    assert (tmp_path / "comfy" / "custom_nodes" / "my_nodes" / "__init__.py").is_file()


FAKE_PYTHON = """#!/bin/sh
# A stand-in for ComfyUI's Python: `-m pip list` lists torch; `-m pip install` records its
# constraints and fails like pip does for a package that does not exist.
case "$*" in
  *" list "*) echo '[{"name": "torch", "version": "2.4.1"}, {"name": "torchvision",
    "version": "0.19.1"}, {"name": "numpy", "version": "2.1.0"}]' ;;
  *" install "*)
    while [ "$1" != "-c" ]; do shift; done
    cp "$2" "$(dirname "$0")/constraints-seen.txt"
    echo "ERROR: No matching distribution found for nosuchpkg"; exit 1 ;;
esac
"""


async def test_requirements_are_installed_with_torch_pinned_and_a_failure_reported(
    tmp_path: Path,
) -> None:
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    os.chmod(python, 0o755)
    lib = library(tmp_path, Store({"reqs": WITH_REQS}), str(python))
    reloads = Reloads()
    lib.reload = reloads
    await lib.sync([], [package("needs_pip", WITH_REQS, "reqs")])
    report = lib.report()
    assert report["sync_phase"] == "failed"
    assert "needs_pip/requirements.txt: pip install failed (exit 1)" in report["sync_detail"]
    assert "No matching distribution found for nosuchpkg" in report["sync_detail"]
    pins = (tmp_path / "constraints-seen.txt").read_text().split()
    assert pins == ["torch==2.4.1", "torchvision==0.19.1"]
    # unpacked (ComfyUI restarted once); the next pass tries the install again
    assert reloads.count == 1 and report["node_packages"] == ["needs_pip"]
    (tmp_path / "constraints-seen.txt").unlink()
    await lib.sync([], [package("needs_pip", WITH_REQS, "reqs")])
    assert (tmp_path / "constraints-seen.txt").exists() and reloads.count == 1


async def test_without_a_known_python_the_requirements_are_reported(tmp_path: Path) -> None:
    lib = library(tmp_path, Store({"reqs": WITH_REQS}), None)
    await lib.sync([], [package("needs_pip", WITH_REQS, "reqs")])
    assert "no Python known for ComfyUI (--comfyui-python)" in lib.report()["sync_detail"]


def test_comfyuis_python_defaults_to_the_supervised_commands() -> None:
    from runyard_agent.options import AgentOptions

    def python(**kw: object) -> str | None:
        return AgentOptions(agent_key="ak-x", agent_id="a", **kw).comfyui_python()  # type: ignore[arg-type]

    assert python(comfyui_command="/opt/venv/bin/python3.11 main.py --port {port}") == (
        "/opt/venv/bin/python3.11"
    )
    assert python(comfyui_command="./run-comfy.sh --port {port}") is None
    assert python() is None
    assert python(comfyui_command="python main.py", comfyui_python_path="/usr/bin/py") == (
        "/usr/bin/py"
    )


async def test_an_archive_that_does_not_fit_makes_the_agent_unhealthy(tmp_path: Path) -> None:
    comfy = tmp_path / "comfy"
    http = httpx.AsyncClient(transport=httpx.MockTransport(Store({"nodes": NODES}).handler))
    packages = NodePackages(comfy, comfy / ".runyard-library", None)
    lib = ModelLibrary(
        comfy / "models", 10**9, http=http, packages=packages, free_bytes=lambda path: 10
    )
    await lib.sync([], [package("my_nodes", NODES, "nodes")])
    report = lib.report()
    assert report["sync_phase"] == "failed" and "not enough disk" in report["sync_detail"]
    assert not lib.healthy and not (comfy / "custom_nodes" / "my_nodes").exists()
