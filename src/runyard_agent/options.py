"""Agent settings (``AgentOptions``) and the connection's policies that need no socket.

The CLI builds ``AgentOptions`` once from its flags and environment; tests build it directly
with shrunken timers.
"""

from __future__ import annotations

import logging
import random
import shlex
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.frames import Close

from runyard_protocol import close_reason_for

__all__ = ["AgentOptions", "AgentRejectedError", "Backoff", "agent_version", "check_close"]


class AgentRejectedError(Exception):
    """The server refused this agent for good; the message says why and what to fix."""

    def __init__(
        self, message: str, *, close_code: int | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.status_code = status_code


class Backoff:
    """Exponential backoff with jitter: try n waits a random time in [base/2, base] where
    base = min(cap, initial * 2**n); ``reset()`` after a good connection."""

    def __init__(
        self, initial: float = 0.5, cap: float = 10.0, rng: random.Random | None = None
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * 2 ** min(self.failures, 32))
        self.failures += 1
        return float(base / 2 + self._rng.random() * base / 2)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class AgentOptions:
    """Everything an agent needs; the CLI builds it, tests shrink the timers."""

    agent_key: str = field(repr=False)
    agent_id: str
    server_url: str = "http://127.0.0.1:8000"
    labels: list[str] = field(default_factory=lambda: ["cpu"])
    capacity: int = 1
    work_dir: Path | None = None  # None: a temporary directory, removed on exit
    comfyui_url: str | None = "http://127.0.0.1:8188"  # None: no ComfyUI runtime
    # ComfyUI's base directory on this machine (input/, output/, temp/): lets the agent remove
    # what each task left there; None: files stay (ComfyUI has no API to delete them).
    comfyui_dir: Path | None = None
    comfyui_keep_files: bool = False
    # Disk budget for models that workflows declare and the agent fetches (LRU beyond it).
    comfyui_model_budget: int = 50 * 1024**3
    # Supervised ComfyUI: the command the agent starts (``{port}`` = the URL's port), and GPUs
    # to start one ComfyUI each on (ports counting up from the URL's; one slot each).
    comfyui_command: str | None = None
    comfyui_gpus: list[str] = field(default_factory=list)
    # The Python node packages' requirements.txt are installed into (None: the first word of
    # comfyui_command when it is a Python).
    comfyui_python_path: str | None = None
    # Live previews (sampler steps): at most one per this many seconds per task; 0: none sent.
    comfyui_preview_interval: float = 1.0
    # Deployed python code: how many tasks one warm process serves (1: a fresh one per task),
    # and the per-task limits (the lower of these and the workflow's own apply; None: none).
    python_tasks_per_process: int = 100
    task_memory_mb: float | None = None
    task_cpu_seconds: float | None = None
    # A package index the agent installs bundles' requirements from; None: they must be
    # installed where the agent runs.
    python_index_url: str | None = None
    drain_timeout: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    open_timeout: float = 10.0
    welcome_timeout: float = 10.0
    request_timeout: float = 30.0
    health_timeout: float = 5.0
    cancel_grace: float = 5.0
    progress_interval: float = 0.25
    # Ports on 127.0.0.1 that tunnels may reach. None: the ComfyUI port (when ComfyUI runs on
    # this machine); []: no tunnels (--no-tunnels).
    tunnel_ports: list[int] | None = None

    def allowed_tunnel_ports(self) -> list[int]:
        if self.tunnel_ports is not None:
            return sorted(set(self.tunnel_ports))
        if not self.comfyui_url:
            return []
        parts = urlsplit(self.comfyui_url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            return []
        first = parts.port or (443 if parts.scheme == "https" else 80)
        return [first + i for i in range(max(1, len(self.comfyui_gpus)))]

    def comfyui_python(self) -> str | None:
        if self.comfyui_python_path:
            return self.comfyui_python_path
        first = shlex.split(self.comfyui_command)[0] if self.comfyui_command else ""
        return first if first and Path(first).name.startswith("python") else None

    def __post_init__(self) -> None:
        if not 1 <= len(self.agent_id) <= 200:
            raise ValueError("agent_id must be 1 to 200 characters")
        if not 1 <= self.capacity <= 1024:
            raise ValueError("capacity must be between 1 and 1024")
        if self.comfyui_gpus and not self.comfyui_command:
            raise ValueError(
                "--comfyui-gpus starts one ComfyUI per GPU: it needs --comfyui-command"
            )
        if any(not 1 <= port <= 65535 for port in self.tunnel_ports or []):
            raise ValueError("--tunnel-port must be between 1 and 65535")
        if self.python_tasks_per_process < 1:
            raise ValueError("--python-tasks-per-process must be at least 1")
        if self.comfyui_preview_interval < 0:
            raise ValueError("--comfyui-preview-interval must be 0 (off) or more seconds")
        self.ws_url()

    def ws_url(self) -> str:
        """``http(s)://host`` -> ``ws(s)://host/api/v1/agent/ws``."""
        base = self.server_url.rstrip("/")
        for http_scheme, ws_scheme in (("https://", "wss://"), ("http://", "ws://")):
            if base.startswith(http_scheme):
                base = ws_scheme + base[len(http_scheme) :]
        if not base.startswith(("ws://", "wss://")):
            raise ValueError(f"server URL {self.server_url!r} must start with http:// or https://")
        return base + "/api/v1/agent/ws"


def agent_version() -> str:
    try:
        return metadata.version("runyard")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def check_close(received: Close | None, log: logging.LoggerAdapter[Any]) -> None:
    """Judge how the server closed the socket: a terminal close code raises
    ``AgentRejectedError`` (a person must act); anything else is logged and retried."""
    if received is None:
        log.warning("connection lost")
        return
    reason = close_reason_for(received.code)
    said = f": {received.reason}" if received.reason else ""
    if reason is not None and not reason.retryable:
        raise AgentRejectedError(
            f"the server closed the connection for good: {reason.description} "
            f"(close code {received.code}{said})",
            close_code=received.code,
        )
    log.warning("the server closed the connection (code %d%s)", received.code, said)
