"""Frame models. ``AgentFrame`` is what an agent may send, ``ServerFrame`` what the server sends.

Every task-scoped frame carries ``task_id`` and ``attempt``: the server refuses frames of an
attempt that is no longer current (fencing), so a resurrected agent cannot finish a retried task.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from runyard_protocol.base import Frame as _Frame
from runyard_protocol.library import LibrarySync
from runyard_protocol.logs import TaskLog
from runyard_protocol.tunnels import (
    TunnelClose,
    TunnelCredit,
    TunnelEof,
    TunnelOpen,
    TunnelOpened,
)

# 2: outcomes (complete, fail, cancelled, release) are acknowledged with task.outcome.ack.v1; an
# agent keeps each one until acknowledged. A version-1 hello is closed with 4012 (not retryable).
PROTOCOL_VERSION = 2


class RunningTask(_Frame):
    task_id: str
    attempt: int


# ---------------------------------------------------------------- agent -> server


class AgentHello(_Frame):
    """First frame after connecting."""

    type: Literal["agent.hello.v1"] = "agent.hello.v1"
    agent_id: str = Field(min_length=1, max_length=200)
    labels: list[str] = Field(default_factory=list)
    capacity: int = Field(default=1, ge=1, le=1024)
    agent_version: str = ""
    protocol_version: int = PROTOCOL_VERSION
    runtimes: list[str] = Field(default_factory=lambda: ["python"])
    system_info: dict[str, Any] = Field(default_factory=dict)
    healthy: bool = True
    running_tasks: list[RunningTask] = Field(default_factory=list)
    # The ports on 127.0.0.1 this agent lets tunnels reach (optional within version 2: an older
    # agent sends none and takes no tunnels).
    tunnel_ports: list[int] = Field(default_factory=list, max_length=64)
    # It understands tunnel.eof.v1 (half-closed streams); an older agent does not say so.
    tunnel_half_close: bool = False


class Heartbeat(_Frame):
    type: Literal["agent.heartbeat.v1"] = "agent.heartbeat.v1"
    running_tasks: list[RunningTask] = Field(default_factory=list)
    healthy: bool = True
    system_info: dict[str, Any] | None = None
    draining: bool = False


class TaskAck(_Frame):
    """The agent accepted an assignment and starts it."""

    type: Literal["task.ack.v1"] = "task.ack.v1"
    task_id: str
    attempt: int


class TaskProgress(_Frame):
    type: Literal["task.progress.v1"] = "task.progress.v1"
    task_id: str
    attempt: int
    progress: float = Field(ge=0.0, le=1.0)
    step_current: int | None = None
    step_total: int | None = None
    current_node: str | None = None
    message: str | None = None


#: The largest preview image a ``TaskPreview`` may carry (decoded); agents skip larger ones.
MAX_PREVIEW_BYTES = 256 * 1024
PREVIEW_TYPES = ("image/jpeg", "image/png")


class TaskPreview(_Frame):
    """The latest live preview image of a running task (ComfyUI's sampler previews), base64.

    Optional within protocol 2: a server that does not know it answers an ``error.v1`` with
    ``protocol_error``, and the agent stops sending previews on that connection."""

    type: Literal["task.preview.v1"] = "task.preview.v1"
    task_id: str
    attempt: int
    content_type: Literal["image/jpeg", "image/png"]
    # base64 of at most MAX_PREVIEW_BYTES bytes
    data: str = Field(min_length=4, max_length=(MAX_PREVIEW_BYTES + 2) // 3 * 4)
    node: str | None = Field(default=None, max_length=200)


class OutputUrlRequest(_Frame):
    """Ask for a signed PUT URL for one output; answered by ``OutputUrlGrant``."""

    type: Literal["task.output_url.v1"] = "task.output_url.v1"
    request_id: str
    task_id: str
    attempt: int
    output_id: str = Field(min_length=1, max_length=200)
    file_name: str = Field(min_length=1, max_length=255)
    content_type: str = "application/octet-stream"
    file_size: int = Field(ge=0)


class InputUrlRequest(_Frame):
    """Ask for fresh signed GET URLs of the task's file inputs (the first ones expired)."""

    type: Literal["task.input_url.v1"] = "task.input_url.v1"
    request_id: str
    task_id: str
    attempt: int


# Small outputs may travel inside ``task.complete.v1`` (``OutputSpec.data``) instead of through
# an upload URL, when the server's welcome offers it (``inline_output_max`` > 0: its store is the
# embedded one, which receives the bytes itself anyway). At most this many bytes per output, and
# MAX_INLINE_TOTAL per completion; larger outputs are uploaded through URLs as before.
MAX_INLINE_OUTPUT = 64 * 1024
MAX_INLINE_TOTAL = 256 * 1024


class OutputSpec(_Frame):
    output_id: str
    file_name: str
    content_type: str
    file_size: int
    # Base64 of the output's bytes, when sent inline (no upload URL was asked for). Optional
    # within version 2: sent only to a server whose welcome offered it.
    data: str | None = Field(default=None, max_length=(MAX_INLINE_OUTPUT + 2) // 3 * 4)
    # Hex sha256 of the output's bytes (the agent hashes while uploading). Optional within
    # version 2: older agents send none; the server checks it against inline data.
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


MAX_VALUES_BYTES = 64 * 1024


def bounded_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` if they serialise within ``MAX_VALUES_BYTES``, else each string value cut so
    that they do, marked ``"…"``; both ends apply it (the server stores what fits)."""
    size = len(json.dumps(values, default=str).encode())
    if size <= MAX_VALUES_BYTES:
        return values
    share = max(64, MAX_VALUES_BYTES // max(1, len(values)) - 64)
    cut: dict[str, Any] = {}
    for key, value in list(values.items())[: MAX_VALUES_BYTES // 128]:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        cut[key[:200]] = text if len(text) <= share else text[: share - 1] + "…"
    return cut


class TaskComplete(_Frame):
    type: Literal["task.complete.v1"] = "task.complete.v1"
    task_id: str
    attempt: int
    outputs: list[OutputSpec] = Field(default_factory=list)
    # Non-file outputs by output id (a ComfyUI PreviewAny's text, skipped outputs…): JSON
    # values, at most MAX_VALUES_BYTES serialised (see bounded_values). Optional within
    # version 2: older servers drop them.
    values: dict[str, Any] = Field(default_factory=dict)


class TaskFail(_Frame):
    type: Literal["task.fail.v1"] = "task.fail.v1"
    task_id: str
    attempt: int
    error_code: str = "task_failed"
    error_message: str = ""


class TaskCancelled(_Frame):
    """The agent confirms it stopped a task after ``TaskCancel`` (``stopped_by="server"``), or
    reports that its runtime stopped the task on its own (``stopped_by="runtime"``: e.g. the
    prompt was interrupted in ComfyUI's UI), which ends the task ``cancelled`` with ``message``.

    Both fields are optional additions within version 2: a server that predates them reads a
    runtime stop as an unrequested confirmation (the task goes back to the queue)."""

    type: Literal["task.cancelled.v1"] = "task.cancelled.v1"
    task_id: str
    attempt: int
    stopped_by: Literal["server", "runtime"] = "server"
    message: str = Field(default="", max_length=4000)


class TaskRelease(_Frame):
    """The agent hands a task back unstarted or unfinished (shutting down); it is re-queued."""

    type: Literal["task.release.v1"] = "task.release.v1"
    task_id: str
    attempt: int
    reason: str = ""


AgentFrame = Annotated[
    AgentHello
    | Heartbeat
    | TaskAck
    | TaskProgress
    | TaskPreview
    | TaskLog
    | OutputUrlRequest
    | InputUrlRequest
    | TaskComplete
    | TaskFail
    | TaskCancelled
    | TaskRelease
    | TunnelOpened
    | TunnelCredit
    | TunnelClose
    | TunnelEof,
    Field(discriminator="type"),
]

# ---------------------------------------------------------------- server -> agent


class ServerWelcome(_Frame):
    """Answer to ``AgentHello``; ``drop_tasks`` lists reported tasks the agent must abandon."""

    type: Literal["server.welcome.v1"] = "server.welcome.v1"
    agent_id: str
    heartbeat_interval: float
    protocol_version: int = PROTOCOL_VERSION
    drop_tasks: list[RunningTask] = Field(default_factory=list)
    # The largest output (bytes) this server takes inline in task.complete.v1; 0: none (an S3
    # store, or a server that predates it: upload every output through its URL).
    inline_output_max: int = Field(default=0, ge=0, le=MAX_INLINE_OUTPUT)
    # It understands tunnel.eof.v1 (half-closed streams); an older server does not say so.
    tunnel_half_close: bool = False


class HeartbeatAck(_Frame):
    type: Literal["server.heartbeat.v1"] = "server.heartbeat.v1"
    drop_tasks: list[RunningTask] = Field(default_factory=list)


class AssignedInput(_Frame):
    parameter: str
    file_key: str
    file_name: str
    content_type: str
    file_size: int
    download_url: str


class AssignedBundle(_Frame):
    """The deployed code of a python workflow version (``runyard workflows deploy``): a tar.gz
    to fetch once from ``download_url`` (a signed GET), checked against ``sha256``."""

    file_key: str
    sha256: str
    file_size: int
    download_url: str


class AssignedWorkflow(_Frame):
    id: str
    slug: str
    version: int
    tool_type: Literal["python", "comfyui"]
    workflow_json: dict[str, Any]
    parameters: list[dict[str, Any]] = Field(default_factory=list)
    # An addition within protocol 2: the bundle a deployed python version runs from.
    bundle: AssignedBundle | None = None


class TaskAssign(_Frame):
    type: Literal["task.assign.v1"] = "task.assign.v1"
    task_id: str
    attempt: int
    workflow: AssignedWorkflow
    parameters: dict[str, Any]
    inputs: list[AssignedInput] = Field(default_factory=list)
    timeout_seconds: float | None = None


class TaskCancel(_Frame):
    """Stop this attempt now (cancelled by a user, timed out, or moved to another agent)."""

    type: Literal["task.cancel.v1"] = "task.cancel.v1"
    task_id: str
    attempt: int
    reason: Literal["cancelled", "timed_out", "reassigned", "dropped"] = "cancelled"


class OutputUrlGrant(_Frame):
    type: Literal["task.output_url.result.v1"] = "task.output_url.result.v1"
    request_id: str
    task_id: str
    upload_url: str | None = None
    upload_headers: dict[str, str] = Field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None


class InputUrlGrant(_Frame):
    type: Literal["task.input_url.result.v1"] = "task.input_url.result.v1"
    request_id: str
    task_id: str
    inputs: list[AssignedInput] = Field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None


class ErrorFrame(_Frame):
    """A refused frame (e.g. a stale attempt); the connection stays open."""

    type: Literal["error.v1"] = "error.v1"
    error_code: str
    error_message: str
    task_id: str | None = None
    in_reply_to: str | None = None


OutcomeKind = Literal["complete", "fail", "cancelled", "release"]
#: The frames that end an attempt on the agent; each is acknowledged with ``OutcomeAck``.
Outcome = TaskComplete | TaskFail | TaskCancelled | TaskRelease
OUTCOMES = (TaskComplete, TaskFail, TaskCancelled, TaskRelease)
_OUTCOME_KIND: dict[type[Outcome], OutcomeKind] = {
    TaskComplete: "complete",
    TaskFail: "fail",
    TaskCancelled: "cancelled",
    TaskRelease: "release",
}


def outcome_kind(frame: Outcome) -> OutcomeKind:
    return _OUTCOME_KIND[type(frame)]


class OutcomeAck(_Frame):
    """The server's answer to an outcome of ``(task_id, attempt)``; the agent forgets the outcome
    on any of them. ``applied``: recorded now; ``duplicate``: recorded before (a resend after a
    reconnect); ``refused``: the attempt is no longer this agent's (``error_message`` says why)."""

    type: Literal["task.outcome.ack.v1"] = "task.outcome.ack.v1"
    task_id: str
    attempt: int
    outcome: OutcomeKind
    result: Literal["applied", "duplicate", "refused"]
    error_message: str | None = None


ServerFrame = Annotated[
    ServerWelcome
    | HeartbeatAck
    | TaskAssign
    | TaskCancel
    | OutputUrlGrant
    | InputUrlGrant
    | OutcomeAck
    | LibrarySync
    | ErrorFrame
    | TunnelOpen
    | TunnelCredit
    | TunnelClose
    | TunnelEof,
    Field(discriminator="type"),
]

_agent_adapter: TypeAdapter[AgentFrame] = TypeAdapter(AgentFrame)
_server_adapter: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


def parse_agent_frame(raw: str | bytes) -> AgentFrame:
    """Parse one frame sent by an agent; raises ``pydantic.ValidationError`` when malformed."""
    return _agent_adapter.validate_json(raw)


def parse_server_frame(raw: str | bytes) -> ServerFrame:
    """Parse one frame sent by the server; raises ``pydantic.ValidationError`` when malformed."""
    return _server_adapter.validate_json(raw)


def dump_frame(frame: BaseModel) -> str:
    return frame.model_dump_json()
