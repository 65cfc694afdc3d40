"""HTTP and WebSocket calls to one ComfyUI server, each mapped to a runtime error on failure."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from runyard_agent.runtimes.base import TaskFailedError
from runyard_agent.runtimes.comfyui.errors import (
    COMFYUI_ERROR,
    OUTPUT_MISSING,
    UNREACHABLE,
    VALIDATION_FAILED,
    render_validation_error,
)
from runyard_agent.runtimes.comfyui.graph import Graph, OutputFile

log = logging.getLogger(__name__)

# Errors that mean "ComfyUI cannot be reached right now" (as opposed to an answer we dislike).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError,
    OSError,
    TimeoutError,
    InvalidHandshake,
    InvalidURI,
)
# Folders ComfyUI's ``GET /models`` lists that hold no models: the custom nodes' source files and
# model config YAMLs. Reporting them would make ``custom_nodes/pack/__init__.py`` a "model".
NOT_MODEL_FOLDERS = frozenset({"custom_nodes", "configs"})
# Transport errors plus error statuses: what a best-effort call (cancel, health) tolerates.
HTTP_ERRORS: tuple[type[Exception], ...] = (*TRANSPORT_ERRORS, httpx.HTTPError)


def websocket_url(base_url: str, client_id: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, f"clientId={client_id}", ""))


@dataclass(frozen=True)
class Submitted:
    prompt_id: str
    # A 200 with node_errors: ComfyUI runs the outputs that validated and skips the others.
    node_errors: dict[str, Any] = field(default_factory=dict)


def _snippet(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] or "(empty body)"


class ComfyUIClient:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = httpx.AsyncClient(base_url=self.base_url + "/", timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def connect(self, client_id: str) -> ClientConnection:
        # Preview frames can be megabytes; no size limit. Long nodes are fine: ComfyUI's event
        # loop answers pings while a worker thread runs the graph.
        return await connect(
            websocket_url(self.base_url, client_id),
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=20,
            ping_timeout=60,
        )

    async def upload(self, path: Path, name: str, content_type: str, subfolder: str = "") -> str:
        """Upload an input; returns the name to put in the graph (ComfyUI may rename it).
        In a ``subfolder`` of its own the task's file overwrites rather than being renamed."""
        form = {"subfolder": subfolder, "overwrite": "true"} if subfolder else {}
        with path.open("rb") as handle:
            response = await self.http.post(
                "/upload/image", files={"image": (name, handle, content_type)}, data=form
            )
        if response.status_code != 200:
            raise TaskFailedError(
                f"ComfyUI refused the upload of {name!r}: HTTP {response.status_code} "
                f"{_snippet(response)}",
                COMFYUI_ERROR,
            )
        try:
            body = response.json()
            stored = str(body["name"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TaskFailedError(
                f"ComfyUI answered the upload of {name!r} with {_snippet(response)}",
                COMFYUI_ERROR,
            ) from exc
        subfolder = str(body.get("subfolder") or "")
        return f"{subfolder}/{stored}" if subfolder else stored

    async def submit(self, graph: Graph, client_id: str, prompt_id: str) -> Submitted:
        """``POST /prompt``: the prompt id ComfyUI uses (ours unless it is too old) and the
        ``node_errors`` of outputs it accepted the prompt without (it runs only the others)."""
        response = await self.http.post(
            "/prompt", json={"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        )
        if response.status_code == 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            raise TaskFailedError(render_validation_error(body), VALIDATION_FAILED)
        if response.status_code != 200:
            raise TaskFailedError(
                f"ComfyUI answered HTTP {response.status_code} to the prompt: {_snippet(response)}",
                COMFYUI_ERROR,
            )
        try:
            body = response.json()
            accepted = str(body.get("prompt_id") or prompt_id)
        except (ValueError, AttributeError) as exc:
            raise TaskFailedError(
                f"ComfyUI answered the prompt with {_snippet(response)}", COMFYUI_ERROR
            ) from exc
        node_errors = body.get("node_errors")
        return Submitted(accepted, dict(node_errors) if isinstance(node_errors, dict) else {})

    async def history_entry(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry, or None: ``{}`` means "not finished yet" as well as "unknown"."""
        response = await self.http.get(f"/history/{prompt_id}")
        if response.status_code != 200:
            raise TaskFailedError(
                f"ComfyUI answered HTTP {response.status_code} to /history/{prompt_id}",
                COMFYUI_ERROR,
            )
        try:
            entry = response.json().get(prompt_id)
        except (ValueError, AttributeError):
            return None
        return entry if isinstance(entry, dict) else None

    async def queue_position(self, prompt_id: str) -> str | None:
        """``"running"``, ``"pending"`` or None (not queued)."""
        response = await self.http.get("/queue")
        response.raise_for_status()
        body = response.json()
        for state in ("running", "pending"):
            for item in body.get(f"queue_{state}") or []:
                if isinstance(item, list) and len(item) > 1 and str(item[1]) == prompt_id:
                    return state
        return None

    async def interrupt(self, prompt_id: str) -> None:
        response = await self.http.post("/interrupt", json={"prompt_id": prompt_id})
        response.raise_for_status()

    async def delete_pending(self, prompt_id: str) -> None:
        response = await self.http.post("/queue", json={"delete": [prompt_id]})
        response.raise_for_status()

    async def download(self, ref: OutputFile, destination: Path) -> None:
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        async with self.http.stream("GET", "/view", params=params) as response:
            if response.status_code == 404:
                raise TaskFailedError(
                    f"ComfyUI has no file {ref.subfolder}/{ref.filename} ({ref.type}) "
                    f"for output {ref.output_id}",
                    OUTPUT_MISSING,
                )
            if response.status_code != 200:
                raise TaskFailedError(
                    f"ComfyUI answered HTTP {response.status_code} to /view for {ref.filename}",
                    COMFYUI_ERROR,
                )
            with destination.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)

    async def node_classes(self) -> list[str]:
        """The node classes ComfyUI has (``GET /object_info``: its keys)."""
        response = await self.http.get("/object_info")
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("/object_info is not an object")
        return sorted(str(name) for name in body)

    async def model_files(self) -> dict[str, list[str]]:
        """``{folder: [file, …]}`` from ``GET /models`` and ``GET /models/<folder>``, model
        folders only (not ``NOT_MODEL_FOLDERS``)."""
        response = await self.http.get("/models")
        response.raise_for_status()
        folders = response.json()
        found: dict[str, list[str]] = {}
        for folder in folders if isinstance(folders, list) else []:
            if folder in NOT_MODEL_FOLDERS:
                continue
            listing = await self.http.get(f"/models/{folder}")
            if listing.status_code == 200 and isinstance(names := listing.json(), list):
                found[str(folder)] = sorted(str(n) for n in names)
        return found

    async def system_stats(self) -> dict[str, Any]:
        response = await self.http.get("/system_stats")
        if response.status_code != 200:
            raise TaskFailedError(
                f"ComfyUI answered HTTP {response.status_code} to /system_stats", UNREACHABLE
            )
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("/system_stats is not an object")
        return body


def new_ids() -> tuple[str, str]:
    """A socket client id and a prompt id chosen by us, so a cancel can name the prompt even
    while ``POST /prompt`` is still in flight."""
    return uuid.uuid4().hex, str(uuid.uuid4())
