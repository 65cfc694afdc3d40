"""The team's model library on this agent: ``library.sync.v1`` makes ComfyUI's models folder hold
the team's active set.

Bytes live once per sha256 in a content-addressed cache beside the models folder
(``<comfyui-dir>/.runyard-library/blobs/<sha256>``); each model is placed at
``models/<model_type>/<model_path>`` as a hard link to its blob (a copy where links fail). A blob
is downloaded through the presigned GET of the set into ``<sha256>.part``, hashed while it
streams, and renamed only when the sha256 matches (else the partial file is dropped). A partial
file left by a killed agent is resumed with ``Range`` (its bytes are hashed first, never fetched
again). What the sync placed is listed in ``.runyard-library/placed.json``; a file that leaves
the set is removed only if it is still the one the sync placed: files put there by anyone else
are never touched, and a different file already at a model's place is left alone (reported).

Active models are never evicted; blobs no active model uses are removed once the cache exceeds
the disk budget. A download that cannot fit (free space checked first, ``ENOSPC`` while
writing) drops its partial file, marks the agent unhealthy and says why in ``sync_detail``.

A failed pass is tried again every minute with the same set (a freed disk heals the agent
without a restart). The state (``report()``) goes into the agent's
``system_info.library_sync``: ``sync_phase`` (``idle`` | ``syncing`` | ``failed``),
``sync_percent``, ``sync_detail``, ``model_ids`` held and ``models`` placed
(``{model_type: [model_path, …]}``, which the server's dispatcher reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx

from runyard_agent.runtimes.comfyui.node_packages import NodePackages
from runyard_agent.runtimes.comfyui.sync_errors import DiskFullError, SyncError
from runyard_protocol import LibrarySync, SyncedModel, SyncedNodePackage

log = logging.getLogger(__name__)

SyncPhase = Literal["idle", "syncing", "failed"]
_CHUNK = 1 << 20
_REPORT_EVERY = 1.0  # seconds between progress reports while downloading


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _hash_file(path: Path, digest: Any) -> int:
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _same_bytes(path: Path, sha256: str) -> bool:
    digest = hashlib.sha256()
    _hash_file(path, digest)
    return digest.hexdigest() == sha256


class ModelLibrary:
    def __init__(
        self,
        models_dir: Path,
        budget_bytes: int,
        *,
        http: httpx.AsyncClient | None = None,
        on_change: Callable[[], None] = lambda: None,
        free_bytes: Callable[[Path], int] = _free_bytes,
        retry_after: float = 60.0,
        packages: NodePackages | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.cache_dir = models_dir.parent / ".runyard-library"
        self.blobs = self.cache_dir / "blobs"
        self.budget_bytes = budget_bytes
        self._http = http
        self._on_change = on_change
        self._free_bytes = free_bytes
        self.retry_after = retry_after
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.phase: SyncPhase = "idle"
        self.percent = 100.0
        self.detail = "waiting for the team's model set"
        self.disk_full = False
        self.downloaded = 0  # bytes fetched over HTTP (tests: a resume fetches only the rest)
        self._held: dict[str, str] = {}  # model_id -> "type/path" present and verified
        self.packages = packages  # custom node packages (``node_packages.py``)
        # Restarts the supervised ComfyUI(s) once the packages changed; False: not supervised.
        self.reload: Callable[[], Awaitable[bool]] | None = None

    # ------------------------------------------------------------------ state for the server

    @property
    def healthy(self) -> bool:
        return not self.disk_full

    def report(self) -> dict[str, Any]:
        models: dict[str, list[str]] = {}
        for place in sorted(self._held.values()):
            model_type, _, model_path = place.partition("/")
            models.setdefault(model_type, []).append(model_path)
        return {
            "sync_phase": self.phase,
            "sync_percent": round(self.percent, 1),
            "sync_detail": self.detail,
            "model_ids": sorted(self._held),
            "models": models,
            "node_packages": self.packages.names if self.packages else [],
            "node_package_ids": self.packages.ids if self.packages else [],
        }

    def _set(self, phase: SyncPhase, percent: float, detail: str) -> None:
        self.phase, self.percent, self.detail = phase, percent, detail
        self._on_change()

    # ------------------------------------------------------------------ driving

    def apply(self, frame: LibrarySync) -> None:
        """A new set arrived: stop the pass under way (its partial file stays, to be resumed)
        and start one for this set."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        run = self._run(list(frame.models), list(frame.node_packages))
        self._task = asyncio.get_running_loop().create_task(run)

    async def _run(self, models: list[SyncedModel], packages: list[SyncedNodePackage]) -> None:
        """Sync, and while it fails (a full disk, a store that did not answer) try the same set
        again every ``retry_after`` seconds, resuming what is on disk; a new set replaces it."""
        while True:
            try:
                await self.sync(models, packages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never take the agent down; say why
                log.exception("the model library sync failed")
                self._set("failed", self.percent, f"the sync failed: {exc}")
            if self.phase != "failed":
                return
            await asyncio.sleep(self.retry_after)

    async def wait(self) -> None:
        """Until the pass under way ends (tests)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # ------------------------------------------------------------------ one pass

    async def sync(
        self, models: list[SyncedModel], packages: list[SyncedNodePackage] | None = None
    ) -> None:
        """Make the managed files match ``models`` and ``packages`` (the whole active set)."""
        async with self._lock:
            placed = await asyncio.to_thread(self._load)
            wanted = {f"{m.model_type}/{m.model_path}": m for m in models}
            await asyncio.to_thread(self._remove_left, placed, wanted)
            self._held = {
                m.model_id: key
                for key, m in wanted.items()
                if placed.get(key, {}).get("sha256") == m.sha256 and self._still_ours(key, placed)
            }
            todo = [m for key, m in wanted.items() if m.model_id not in self._held]
            problems: list[str] = []
            fetch = {m.sha256: m.size_bytes for m in todo if not (self.blobs / m.sha256).is_file()}
            total = sum(fetch.values())
            done = 0
            self.disk_full = False
            if todo:
                self._set("syncing", 0.0 if total else 100.0, f"{len(todo)} model(s) to place")
            for model in todo:
                key = f"{model.model_type}/{model.model_path}"
                try:
                    fresh = not (self.blobs / model.sha256).is_file()
                    if fresh:
                        await self._download(model, done, total)
                        done += model.size_bytes
                    await asyncio.to_thread(self._place, model, placed, fresh)
                    self._held[model.model_id] = key
                except SyncError as exc:
                    problems.append(str(exc))
                    self.disk_full = self.disk_full or isinstance(exc, DiskFullError)
                    log.warning("library model %s not synced: %s", key, exc)
                await asyncio.to_thread(self._save, placed)
            if self.packages is not None:
                problems += await self._sync_packages(packages or [])
            active = {m.sha256 for m in models} | {p.sha256 for p in packages or []}
            await asyncio.to_thread(self._evict, active)
            if problems:
                self._set("failed", self.percent, "; ".join(problems)[:2000])
            else:
                self._set("idle", 100.0, f"{len(self._held)} library model(s) in place")

    async def _sync_packages(self, packages: list[SyncedNodePackage]) -> list[str]:
        assert self.packages is not None
        changed, problems = await self.packages.sync(packages, self.blobs, self._download)
        self.disk_full = self.disk_full or self.packages.disk_full
        if changed and not (self.reload is not None and await self.reload()):
            log.warning("custom node packages changed: restart ComfyUI to load them")
        return problems

    # ------------------------------------------------------------------ files

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.cache_dir / "placed.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, placed: dict[str, dict[str, Any]]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / "placed.json.tmp"
        tmp.write_text(json.dumps(placed, indent=1, sort_keys=True))
        tmp.replace(self.cache_dir / "placed.json")

    def _still_ours(self, key: str, placed: dict[str, dict[str, Any]]) -> bool:
        """The file at ``key`` is the one the sync placed (same inode, size, mtime)."""
        entry = placed.get(key)
        try:
            stamp = _stamp(self.models_dir / key)
        except OSError:
            return False
        return entry is not None and all(entry.get(k) == v for k, v in stamp.items())

    def _remove_left(
        self, placed: dict[str, dict[str, Any]], wanted: dict[str, SyncedModel]
    ) -> None:
        for key in list(placed):
            model = wanted.get(key)
            if model is not None and placed[key].get("sha256") == model.sha256:
                continue
            if self._still_ours(key, placed) and not placed[key].get("foreign"):
                (self.models_dir / key).unlink(missing_ok=True)
                log.info("removed library model %s (left the team's set)", key)
            del placed[key]
        self._save(placed)

    def _place(self, model: SyncedModel, placed: dict[str, dict[str, Any]], fresh: bool) -> None:
        key = f"{model.model_type}/{model.model_path}"
        target = self.models_dir / model.model_type / model.model_path
        if not target.resolve().is_relative_to(self.models_dir.resolve()):
            raise SyncError(f"{key} leaves the models folder")
        blob = self.blobs / model.sha256
        if not fresh and not _same_bytes(blob, model.sha256):
            # A cached blob changed since it was verified (a hard link written in place).
            blob.unlink(missing_ok=True)
            raise SyncError(f"{key}: the cached bytes changed on disk; the next sync fetches them")
        if target.exists() or target.is_symlink():
            if target.is_file() and not target.is_symlink() and _same_bytes(target, model.sha256):
                # Put there by someone else with the same bytes: used, never removed.
                placed[key] = {"model_id": model.model_id, "sha256": model.sha256, "foreign": True}
                placed[key].update(_stamp(target))
                return  # put there by someone else, same bytes: used, never removed
            raise SyncError(
                f"{key}: a different file is already there (not placed by the sync); "
                "remove or rename it"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.runyard-tmp")
        tmp.unlink(missing_ok=True)
        try:
            try:
                os.link(blob, tmp)
            except OSError:
                shutil.copyfile(blob, tmp)  # another file system: a copy
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(f"{key}: the disk is full ({exc})") from exc
            raise SyncError(f"{key}: cannot place it: {exc}") from exc
        placed[key] = {"model_id": model.model_id, "sha256": model.sha256, **_stamp(target)}
        log.info("placed library model %s", key)

    def _evict(self, active: set[str]) -> None:
        """Blobs of no active model, oldest first, while the cache is over the budget."""
        if not self.blobs.is_dir():
            return
        blobs = [p for p in self.blobs.iterdir() if p.is_file() and "." not in p.name]
        total = sum(p.stat().st_size for p in blobs)
        for blob in sorted(blobs, key=lambda p: p.stat().st_mtime):
            if total <= self.budget_bytes:
                break
            if blob.name in active:
                continue
            total -= blob.stat().st_size
            blob.unlink(missing_ok=True)
            log.info("removed cached model bytes %s (no active model, over the budget)", blob.name)

    # ------------------------------------------------------------------ download

    async def _download(self, model: SyncedModel, done_before: int, total: int) -> None:
        key = f"{model.model_type}/{model.model_path}"
        self.blobs.mkdir(parents=True, exist_ok=True)
        part = self.blobs / f"{model.sha256}.part"
        digest = hashlib.sha256()
        have = await asyncio.to_thread(_hash_file, part, digest) if part.is_file() else 0
        if have > model.size_bytes:
            part.unlink()
            digest, have = hashlib.sha256(), 0
        need = model.size_bytes - have
        free = self._free_bytes(self.blobs)
        if need > free:
            part.unlink(missing_ok=True)
            raise DiskFullError(
                f"{key}: not enough disk: {need} more bytes needed, {free} free in {self.blobs}"
            )
        try:
            if need > 0:
                digest, have = await self._fetch(model, part, digest, have, done_before, total)
        except OSError as exc:
            part.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(f"{key}: the disk is full ({exc})") from exc
            raise SyncError(f"{key}: cannot write it: {exc}") from exc
        size = part.stat().st_size if part.is_file() else 0
        if size != model.size_bytes or digest.hexdigest() != model.sha256:
            part.unlink(missing_ok=True)
            raise SyncError(
                f"{key}: the bytes do not match its sha256 (got {size} bytes, "
                f"sha256 {digest.hexdigest()}); dropped"
            )
        os.replace(part, self.blobs / model.sha256)
        log.info("downloaded library model %s (%d bytes)", key, model.size_bytes)

    async def _fetch(
        self,
        model: SyncedModel,
        part: Path,
        digest: Any,
        have: int,
        done_before: int,
        total: int,
    ) -> tuple[Any, int]:
        """Append the missing bytes to ``part`` (``Range`` from ``have``); the digest so far."""
        key = f"{model.model_type}/{model.model_path}"
        http = self._http or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        headers = {"Range": f"bytes={have}-"} if have else {}
        last = 0.0
        started = have
        try:
            async with http.stream("GET", model.download_url, headers=headers) as answer:
                ranged = answer.headers.get("content-range", "")
                if answer.status_code == 200 and have:
                    # The store ignored the Range: start again from the first byte.
                    digest, have, started = hashlib.sha256(), 0, 0
                    part.unlink(missing_ok=True)
                elif answer.status_code == 206 and not ranged.startswith(f"bytes {have}-"):
                    raise SyncError(f"{key}: the store answered another range ({ranged})")
                elif answer.status_code not in (200, 206):
                    expired = " (the URL expired)" if answer.status_code == 403 else ""
                    raise SyncError(
                        f"{key}: the store answered HTTP {answer.status_code}{expired}; "
                        "the next sync resumes"
                    )
                with part.open("ab") as handle:
                    async for chunk in answer.aiter_bytes(_CHUNK):
                        have += len(chunk)
                        if have > model.size_bytes:
                            break  # more than the model's size: the check below drops it
                        digest.update(chunk)
                        handle.write(chunk)
                        self.downloaded += len(chunk)
                        if time.monotonic() - last >= _REPORT_EVERY:
                            last = time.monotonic()
                            share = 100.0 * (done_before + have - started) / max(1, total)
                            mine = have * 100 // max(1, model.size_bytes)
                            self._set("syncing", min(share, 99.9), f"downloading {key}: {mine}%")
        except httpx.HTTPError as exc:
            # The partial file stays: the next sync (a reconnect, a change) resumes it.
            raise SyncError(f"{key}: the download failed ({exc}); the next sync resumes") from exc
        finally:
            if self._http is None:
                await http.aclose()
        return digest, have
