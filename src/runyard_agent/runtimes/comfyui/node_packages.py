"""The team's custom node packages on this agent (``node_packages`` of ``library.sync.v1``):
each archive unpacked at ``<comfyui-dir>/custom_nodes/<name>/``.

The archive comes through the model library's cache (sha256 verified, ``Range`` resume), is
unpacked with the rules the server checked it with (``runyard_protocol.packages``) into
``custom_nodes/<name>.runyard-tmp.disabled`` (ComfyUI skips ``*.disabled`` folders) and renamed
into place, so ComfyUI never sees half a package. What was unpacked is listed in
``.runyard-library/packages.json`` with the folder's inode: a package that leaves the set is
removed only when the folder is still the one the sync made; a folder the agent did not make is
never touched (the package is reported, not placed).

A ``requirements.txt`` is installed with the supervised ComfyUI's Python
(``python -m pip install -r requirements.txt -c constraints``), the constraints pinning every
installed ``torch*`` distribution so a package never replaces ComfyUI's torch. A failed install
is a problem of the pass (``sync_phase: failed`` with pip's last lines), tried again with the
next pass. ``sync`` says whether the set of unpacked packages changed: the caller then restarts
ComfyUI once (real ComfyUI imports custom nodes only at start).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from runyard_agent.runtimes.comfyui.sync_errors import DiskFullError, SyncError
from runyard_protocol import SyncedModel, SyncedNodePackage
from runyard_protocol.packages import ArchiveLimits, ArchiveProblem, read_package

log = logging.getLogger(__name__)

# The server checked the archive (same sha256) with its own limits (RUNYARD_NODE_PACKAGE_*):
# here the rules guard the paths; the size limits only stop a runaway.
AGENT_LIMITS = ArchiveLimits(max_files=1_000_000, max_bytes=1 << 40, max_ratio=1e6)
PIP_TIMEOUT = 1800.0
_TAIL = 800


class NodePackageError(SyncError):
    """One package could not be placed or installed (the message says why)."""


async def _run(argv: list[str], timeout: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"no answer within {timeout:g}s"
    return process.returncode or 0, out.decode("utf-8", "replace")


class NodePackages:
    def __init__(self, comfyui_dir: Path, cache_dir: Path, python: str | None) -> None:
        self.custom_nodes = comfyui_dir / "custom_nodes"
        self.cache_dir = cache_dir
        self.python = python
        self.names: list[str] = []  # in place (for the report)
        self.ids: list[str] = []
        self.disk_full = False  # the last pass could not fit an archive

    # ------------------------------------------------------------------ record

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.cache_dir / "packages.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, placed: dict[str, dict[str, Any]]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / "packages.json.tmp"
        tmp.write_text(json.dumps(placed, indent=1, sort_keys=True))
        tmp.replace(self.cache_dir / "packages.json")

    def _ours(self, name: str, entry: dict[str, Any]) -> bool:
        folder = self.custom_nodes / name
        try:
            return (
                folder.is_dir()
                and not folder.is_symlink()
                and folder.stat().st_ino == entry.get("ino")
            )
        except OSError:
            return False

    # ------------------------------------------------------------------ one pass

    async def sync(
        self,
        packages: list[SyncedNodePackage],
        blobs: Path,
        download: Callable[[SyncedModel, int, int], Awaitable[None]],
    ) -> tuple[bool, list[str]]:
        """Make ``custom_nodes/`` hold ``packages`` (the whole active set); returns whether the
        unpacked set changed, and the problems of the pass."""
        placed = await asyncio.to_thread(self._load)
        wanted = {p.name: p for p in packages}
        changed = self.disk_full = False
        problems: list[str] = []
        for name, entry in list(placed.items()):
            package = wanted.get(name)
            if (
                package is not None
                and package.sha256 == entry.get("sha256")
                and self._ours(name, entry)
            ):
                continue
            if self._ours(name, entry):
                await asyncio.to_thread(shutil.rmtree, self.custom_nodes / name)
                changed = True
                log.info("removed custom node package %s (left the team's set)", name)
            del placed[name]
            await asyncio.to_thread(self._save, placed)
        for name, package in wanted.items():
            try:
                if name not in placed:
                    archive = await self._fetch(package, blobs, download)
                    placed[name] = await asyncio.to_thread(self._unpack, package, archive)
                    changed = True
                    await asyncio.to_thread(self._save, placed)
                if not placed[name].get("installed"):
                    await self._install(name)
                    placed[name]["installed"] = True
                    await asyncio.to_thread(self._save, placed)
            except SyncError as exc:
                problems.append(str(exc))
                self.disk_full = self.disk_full or isinstance(exc, DiskFullError)
                log.warning("custom node package %s: %s", name, exc)
        self.names = sorted(placed)
        self.ids = sorted(str(e.get("package_id")) for e in placed.values())
        return changed, problems

    @staticmethod
    async def _fetch(
        package: SyncedNodePackage,
        blobs: Path,
        download: Callable[[SyncedModel, int, int], Awaitable[None]],
    ) -> Path:
        """The archive in the model library's cache (downloaded like a model's bytes)."""
        blob = blobs / package.sha256
        if not blob.is_file():
            fields = package.model_dump(include={"sha256", "size_bytes", "download_url"})
            as_model = SyncedModel(
                model_id=package.package_id,
                model_type="custom_nodes",
                model_path=package.name,
                **fields,
            )
            await download(as_model, 0, package.size_bytes)  # SyncError, DiskFullError
        return blob

    def _unpack(self, package: SyncedNodePackage, archive: Path) -> dict[str, Any]:
        target = self.custom_nodes / package.name
        if target.exists() or target.is_symlink():
            raise NodePackageError(
                f"custom_nodes/{package.name}: a folder the sync did not make is in the way; "
                "remove or rename it"
            )
        self.custom_nodes.mkdir(parents=True, exist_ok=True)
        tmp = self.custom_nodes / f"{package.name}.runyard-tmp.disabled"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            read_package(archive, AGENT_LIMITS, tmp)
            os.rename(tmp, target)
        except ArchiveProblem as exc:
            raise NodePackageError(f"custom_nodes/{package.name}: {exc}") from exc
        except OSError as exc:
            raise NodePackageError(f"custom_nodes/{package.name}: cannot unpack it: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("unpacked custom node package %s", package.name)
        has_requirements = (target / "requirements.txt").is_file()
        return {
            "package_id": package.package_id,
            "sha256": package.sha256,
            "ino": target.stat().st_ino,
            "installed": not has_requirements,
        }

    # ------------------------------------------------------------------ requirements

    async def _install(self, name: str) -> None:
        requirements = self.custom_nodes / name / "requirements.txt"
        where = f"custom_nodes/{name}/requirements.txt"
        if self.python is None:
            raise NodePackageError(
                f"{where} not installed: no Python known for ComfyUI (--comfyui-python)"
            )
        code, out = await _run(
            [self.python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
            120.0,
        )
        try:
            listed = json.loads(out) if code == 0 else None
        except ValueError:
            listed = None
        if not isinstance(listed, list):
            raise NodePackageError(f"{where} not installed: `pip list` failed: {out[-_TAIL:]}")
        pins = sorted(
            f"{d['name']}=={d['version']}"
            for d in listed
            if isinstance(d, dict) and str(d.get("name", "")).lower().startswith("torch")
        )
        constraints = self.cache_dir / f"constraints-{name}.txt"
        await asyncio.to_thread(constraints.write_text, "".join(p + "\n" for p in pins))
        argv = [self.python, "-m", "pip", "install", "--disable-pip-version-check"]
        argv += ["-r", str(requirements), "-c", str(constraints)]
        code, out = await _run(argv, PIP_TIMEOUT)
        if code != 0:
            raise NodePackageError(
                f"{where}: pip install failed (exit {code}), torch kept at "
                f"{', '.join(pins) or 'none installed'}: {out.strip()[-_TAIL:]}"
            )
        log.info("installed %s (torch pinned: %s)", where, ", ".join(pins) or "none")
