"""Typed views of the server's JSON. Unknown fields are kept (``extra="allow"``) so a newer
server never breaks an older SDK; ``model_dump(mode="json")`` gives the JSON back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class PageMeta(Model):
    current_page: int
    per_page: int
    total_count: int
    #: Task lists: False when ``total_count`` is a lower bound (more than 1,000 matched).
    total_exact: bool = True
    #: Task lists: pass as ``cursor`` for the next page (None on the last page).
    next_cursor: str | None = None


class Page(Model, Generic[T]):
    """One page of a list: ``items`` plus the server's ``page_meta``."""

    items: list[T]
    page_meta: PageMeta


class Workflow(Model):
    id: str
    workflow_slug: str
    display_name: str = ""
    description: str = ""
    version: int
    latest_version: int | None = None
    tool_type: str = ""
    parameters: list[dict[str, Any]] = Field(default_factory=list)
    required_labels: list[str] = Field(default_factory=list)
    task_timeout: int | None = None
    max_retries: int | None = None
    workflow_status: str = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    workflow_json: dict[str, Any] | None = None

    def file_parameters(self) -> set[str]:
        return {str(p.get("key")) for p in self.parameters if p.get("type") == "file"}


class TaskInfo(Model):
    """A task record as ``GET /r/tasks/{id}`` returns it."""

    id: str
    workflow_id: str = ""
    workflow_slug: str = ""
    workflow_version: int = 0
    task_status: str
    progress: float = 0.0
    parameters: dict[str, Any] = Field(default_factory=dict)
    task_error: str = ""
    task_error_code: str | None = None
    retry_count: int = 0
    priority: int = 0
    agent_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    #: Why a pending or waiting task has no agent yet (``code``, ``message``,
    #: ``queue_position``, ``agent_ids``); ``None`` otherwise and in lists.
    waiting_reason: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.task_status in TERMINAL_STATUSES


class TaskOutput(Model):
    output_id: str
    file_name: str
    content_type: str = "application/octet-stream"
    file_size: int = 0
    sha256: str | None = None  # hex; downloads are checked against it


class TaskOutputBody(Model):
    outputs: list[TaskOutput] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict)  # non-file outputs (text…) by id


class TaskResult(Model):
    """``GET /r/tasks/{id}/result``: outputs and URLs are ``None`` until completed."""

    id: str
    task_status: str
    task_output: TaskOutputBody | None = None
    download_url: str | None = None
    download_urls: dict[str, str] | None = None
    expires_at: datetime | None = None
    task_error: str = ""
    task_error_code: str | None = None
    completed_at: datetime | None = None


class CancelResult(Model):
    is_success: bool = True
    task_status: str | None = None


class TaskEvent(Model):
    """One progress/status event, from the SSE stream (``id`` set) or synthesised while polling
    (``id`` is ``None``). ``data`` is the event's JSON as the contract (section 5) describes."""

    event: str
    id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def task_status(self) -> str | None:
        value = self.data.get("task_status")
        return str(value) if value is not None else None

    @property
    def progress(self) -> float | None:
        value = self.data.get("progress")
        return float(value) if isinstance(value, int | float) else None

    @property
    def message(self) -> str:
        return str(self.data.get("message") or "")

    @property
    def is_terminal(self) -> bool:
        return self.event in TERMINAL_STATUSES


class Agent(Model):
    agent_id: str
    agent_labels: list[str] = Field(default_factory=list)
    agent_status: str = ""
    running_tasks: int = 0
    capacity: int = 0
    last_heartbeat: datetime | None = None
    #: The team's model library on the agent: ``idle``, ``syncing``, ``failed``; None when the
    #: agent does not sync it (no ``--comfyui-dir``).
    sync_phase: str | None = None
    sync_percent: float | None = None
    sync_detail: str | None = None
    #: Ids of the library models the agent holds.
    synced_models: list[str] = Field(default_factory=list)
    synced_node_packages: list[str] = Field(default_factory=list)


class Credential(Model):
    id: str
    kind: str
    display_name: str = ""
    key_prefix: str = ""
    user_id: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class CreatedCredential(Model):
    """A new key; ``raw_key`` is the secret, shown only once."""

    id: str
    kind: str
    display_name: str = ""
    key_prefix: str = ""
    raw_key: str
    expires_at: datetime | None = None


class TokenPair(Model):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class PairingStarted(Model):
    """``POST /desktop/pair/start``: show ``user_code`` and ``verification_uri_complete``, poll
    with ``device_code`` every ``interval`` seconds."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class PairingPolled(Model):
    """``POST /desktop/pair/poll``: ``pending``, or ``approved`` with the keys (delivered once)."""

    status: str
    device_key: str | None = None
    agent_key: str | None = None
    team_id: str | None = None


class TeamOfUser(Model):
    id: str
    display_name: str = ""
    role: str = ""


class User(Model):
    id: str
    email_address: str
    display_name: str = ""
    created_at: datetime | None = None
    teams: list[TeamOfUser] = Field(default_factory=list)


class PresignedUpload(Model):
    file_key: str
    upload_url: str
    upload_headers: dict[str, str]
    expires_at: str | None = None


class LibraryModel(Model):
    """A model file of the team's library (``client.models``)."""

    id: str
    display_name: str
    model_type: str
    model_path: str
    file_size: int
    sha256: str
    model_status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


class NodePackage(Model):
    """A custom node package of the team's library (``client.node_packages``)."""

    id: str
    name: str
    file_size: int
    sha256: str
    package_status: str
    requirements: str | None = None
    file_count: int = 0
    unpacked_bytes: int = 0
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class MultipartUpload(Model):
    upload_id: str
    file_key: str
    part_size: int
    part_count: int


class PartReceived(Model):
    part_number: int
    size: int = 0
    etag: str = ""


class MultipartStatus(Model):
    upload_id: str
    file_key: str
    upload_status: str = "open"
    file_size: int
    part_size: int
    part_count: int
    parts_received: list[PartReceived] = Field(default_factory=list)


class PresignedPart(Model):
    part_number: int
    upload_url: str
    upload_headers: dict[str, str] = Field(default_factory=dict)


def to_json(value: Any) -> str:
    """Pretty JSON of a model, a page or plain data (for ``--json`` output)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return json.dumps(value, indent=2, default=str)


class Member(Model):
    user_id: str
    email_address: str
    display_name: str = ""
    role: str
    created_at: datetime | None = None


class TeamInfo(Model):
    id: str
    display_name: str = ""
    created_at: datetime | None = None


class CreatedInvitation(Model):
    """A new invitation; ``accept_url`` carries its one-time token, shown only once."""

    id: str
    email_address: str
    role: str
    accept_url: str
    expires_at: datetime | None = None
    emailed: bool = False


class Invitation(Model):
    id: str
    email_address: str
    role: str
    invited_by: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None


class AcceptedInvitation(TokenPair):
    """A new session (like login's) in the team just joined."""

    team_id: str
    role: str
