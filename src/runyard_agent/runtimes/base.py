"""The runtime seam: how the agent runs one task of a given ``tool_type``.

The executor downloads file inputs, builds a ``TaskContext``, calls ``Runtime.run`` and uploads
what it returns. Runtimes never talk to the Runyard server themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # a task's child process imports this module: keep it light
    from runyard_protocol import AssignedWorkflow


@dataclass(frozen=True)
class ProgressReport:
    progress: float  # 0.0-1.0
    step_current: int | None = None
    step_total: int | None = None
    current_node: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class PreviewImage:
    """A live preview of a running task (e.g. a ComfyUI sampler step): the latest one wins."""

    content_type: str  # image/jpeg or image/png
    data: bytes
    node: str | None = None


class LogSink(Protocol):
    """Where the console lines of a task's own process go (``runyard_agent.logs.LogSender`` on
    an agent, the terminal for ``runyard workflows test``)."""

    def room(self) -> int:
        """How many lines it takes now; 0: the reader only counts them (``dropped``)."""
        ...

    def lines(self, stream: str, lines: list[str]) -> None: ...

    def dropped(self, count: int) -> None: ...


@dataclass
class TaskContext:
    """What a running task sees: its parameters, local input files, an output directory."""

    task_id: str
    attempt: int
    parameters: dict[str, Any]
    # parameter key -> local path of the downloaded file input
    input_files: dict[str, Path]
    # parameter key -> original file name / content type of that input
    input_names: dict[str, str]
    input_types: dict[str, str]
    work_dir: Path
    output_dir: Path
    report: Callable[[ProgressReport], None]
    cancel_event: threading.Event = field(default_factory=threading.Event)
    # Non-file outputs (text and other JSON values) by output id, sent with the completion.
    values: dict[str, Any] = field(default_factory=dict)
    # Run off the event loop once the task's outcome is final (outputs uploaded, or failed):
    # a runtime removes files it left outside ``work_dir`` (ComfyUI's input/ and output/).
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    # Where live previews go (throttled by the agent); None: previews are off, do not decode.
    preview: Callable[[PreviewImage], None] | None = None
    # Where the console lines of a task run in its own process go (its stdout, and stderr with
    # its ``logging`` records): a ``bundles.LogSink``. None: nobody listens.
    log: LogSink | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, fraction: float, message: str | None = None, **extra: Any) -> None:
        """Report progress in [0, 1]; safe to call from any thread."""
        self.report(ProgressReport(max(0.0, min(1.0, fraction)), message=message, **extra))


@dataclass(frozen=True)
class ProducedOutput:
    output_id: str
    path: Path
    content_type: str
    file_name: str | None = None  # defaults to path.name


class TaskCancelledError(Exception):
    """Raised by a runtime when the task was cancelled (or aborted for a timeout)."""


class TaskFailedError(Exception):
    """Raised by a runtime for a failure that should reach the user with a code and a message."""

    def __init__(self, message: str, code: str = "task_failed") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Health:
    healthy: bool
    system_info: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


class Runtime(Protocol):
    tool_type: str  # "python" | "comfyui"

    async def run(self, workflow: AssignedWorkflow, ctx: TaskContext) -> list[ProducedOutput]:
        """Run the task; return outputs in the order the workflow produced them.

        Raise ``TaskCancelledError`` when ``ctx.cancel_event`` stopped the work and
        ``TaskFailedError`` for failures the user should read.
        """
        ...

    async def health(self) -> Health: ...

    async def close(self) -> None: ...
