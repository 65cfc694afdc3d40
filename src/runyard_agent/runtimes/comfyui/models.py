"""Models on agents: files a workflow declares, fetched once into ComfyUI's model folders.

A workflow may declare ``{"graph": …, "models": [{"folder": "checkpoints", "file_name":
"sd15.safetensors", "sha256": "…", "url": "https://…"}]}``. Before the prompt is submitted
``ModelCache.ensure`` makes each one present under ``<comfyui-dir>/models/<folder>/``: a file
already there with the right sha256 is reused; otherwise it is downloaded (https only, no
redirects to anything else, at most the cache's budget), hashed while it streams, and moved into
place only when the hash matches. Files the cache fetched are listed in ``.runyard-models.json``
with their size and last use; when they exceed the disk budget the least recently used ones are
removed (never a file the cache did not fetch, nor one the running task needs). Downloads report
progress as task progress messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from runyard_agent.runtimes.base import TaskFailedError

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = "comfyui_model_unavailable"
_INDEX = ".runyard-models.json"
_SAFE_PART = re.compile(r"^[A-Za-z0-9._ ()+-]+$")


@dataclass(frozen=True)
class DeclaredModel:
    folder: str
    file_name: str
    sha256: str
    url: str

    @property
    def key(self) -> str:
        return f"{self.folder}/{self.file_name}"


def declared_models(workflow_json: Mapping[str, Any]) -> list[DeclaredModel]:
    """The ``models`` a wrapped workflow declares; refuses entries that could leave the folder."""
    if not isinstance(workflow_json.get("graph"), Mapping):
        return []
    found = []
    for entry in workflow_json.get("models") or []:
        if not isinstance(entry, Mapping):
            raise TaskFailedError("workflow_json.models holds a non-object", MODEL_UNAVAILABLE)
        model = DeclaredModel(
            str(entry.get("folder") or ""),
            str(entry.get("file_name") or ""),
            str(entry.get("sha256") or "").lower(),
            str(entry.get("url") or ""),
        )
        parts = [model.folder, *model.file_name.split("/")]
        if not all(_SAFE_PART.match(p) and p not in (".", "..") for p in parts):
            raise TaskFailedError(f"model {model.key!r} is not a plain path", MODEL_UNAVAILABLE)
        if not re.fullmatch(r"[0-9a-f]{64}", model.sha256):
            raise TaskFailedError(f"model {model.key!r} needs a sha256", MODEL_UNAVAILABLE)
        found.append(model)
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ModelCache:
    def __init__(
        self,
        models_dir: Path,
        budget_bytes: int,
        *,
        timeout: float = 60.0,
        allow_http: bool = False,  # tests only: plain http to a local server
    ) -> None:
        self.models_dir = models_dir
        self.budget_bytes = budget_bytes
        self.timeout = timeout
        self.allow_http = allow_http
        self._lock = asyncio.Lock()  # one fetch at a time: tasks needing the same file wait
        self.fetches = 0  # downloads done (for tests and logs)

    def _index(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.models_dir / _INDEX).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, index: dict[str, dict[str, Any]]) -> None:
        path = self.models_dir / _INDEX
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".tmp").write_text(json.dumps(index, indent=1, sort_keys=True))
        path.with_suffix(".tmp").replace(path)

    def known_hashes(self) -> dict[str, str]:
        """``folder/file`` → sha256 of the model files this cache verified (for pre-flight)."""
        return {
            key: str(entry["sha256"])
            for key, entry in self._index().items()
            if isinstance(entry, dict) and entry.get("sha256")
        }

    async def ensure(self, models: list[DeclaredModel], report: Callable[[str], None]) -> None:
        if not models:
            return
        async with self._lock:
            index = await asyncio.to_thread(self._index)
            for model in models:
                await self._ensure_one(model, index, report)
                index.setdefault(model.key, {})["used"] = time.time()
            await asyncio.to_thread(self._evict, index, {m.key for m in models})
            await asyncio.to_thread(self._save, index)

    async def _ensure_one(
        self, model: DeclaredModel, index: dict[str, dict[str, Any]], report: Callable[[str], None]
    ) -> None:
        target = self.models_dir / model.folder / model.file_name
        known = index.get(model.key, {})
        if target.is_file():
            if known.get("sha256") == model.sha256 and known.get("size") == target.stat().st_size:
                return
            if await asyncio.to_thread(_sha256, target) == model.sha256:
                index[model.key] = {
                    "sha256": model.sha256,
                    "size": target.stat().st_size,
                    "fetched": False,
                }
                return
            raise TaskFailedError(
                f"model {model.key} on this agent differs from the declared sha256; "
                "remove or rename it",
                MODEL_UNAVAILABLE,
            )
        size = await self._download(model, target, report)
        index[model.key] = {"sha256": model.sha256, "size": size, "fetched": True}

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (self.allow_http and parts.scheme == "http" and local):
            raise TaskFailedError(f"model URL {url!r} is not https", MODEL_UNAVAILABLE)

    async def _download(
        self, model: DeclaredModel, target: Path, report: Callable[[str], None]
    ) -> int:
        self._check_url(model.url)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        digest = hashlib.sha256()
        received = 0
        last = 0.0
        try:
            client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            async with client as http, http.stream("GET", model.url) as response:
                if response.status_code != 200:
                    raise TaskFailedError(
                        f"fetching model {model.key} answered HTTP {response.status_code}",
                        MODEL_UNAVAILABLE,
                    )
                total = int(response.headers.get("content-length") or 0)
                if total > self.budget_bytes:
                    raise TaskFailedError(
                        f"model {model.key} ({total} bytes) exceeds the model budget "
                        f"({self.budget_bytes} bytes)",
                        MODEL_UNAVAILABLE,
                    )
                with partial.open("wb") as handle:
                    async for chunk in response.aiter_bytes(1 << 20):
                        received += len(chunk)
                        if received > self.budget_bytes:
                            raise TaskFailedError(
                                f"model {model.key} exceeds the model budget",
                                MODEL_UNAVAILABLE,
                            )
                        digest.update(chunk)
                        handle.write(chunk)
                        if time.monotonic() - last >= 1.0:
                            last = time.monotonic()
                            share = f"{received * 100 // total}%" if total else f"{received} B"
                            report(f"fetching model {model.key}: {share}")
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise TaskFailedError(
                f"fetching model {model.key} failed: {exc}", MODEL_UNAVAILABLE
            ) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != model.sha256:
            partial.unlink(missing_ok=True)
            raise TaskFailedError(
                f"model {model.key} from {urlsplit(model.url).hostname} does not match its "
                f"sha256 (got {digest.hexdigest()})",
                MODEL_UNAVAILABLE,
            )
        os.replace(partial, target)
        self.fetches += 1
        report(f"fetched model {model.key} ({received} bytes)")
        log.info("fetched model %s (%d bytes)", model.key, received)
        return received

    def _evict(self, index: dict[str, dict[str, Any]], keep: set[str]) -> None:
        fetched = {k: v for k, v in index.items() if v.get("fetched")}
        total = sum(int(v.get("size") or 0) for v in fetched.values())
        for key, entry in sorted(fetched.items(), key=lambda kv: float(kv[1].get("used") or 0)):
            if total <= self.budget_bytes:
                break
            if key in keep:
                continue
            (self.models_dir / key).unlink(missing_ok=True)
            total -= int(entry.get("size") or 0)
            del index[key]
            log.info("removed model %s (least recently used, over the budget)", key)
