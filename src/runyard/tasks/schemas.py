from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from runyard.pagination import PageMeta
from runyard.states import TaskStatus
from runyard.tasks.waiting import WaitingReason


class OutputRead(BaseModel):
    output_id: str
    file_name: str
    content_type: str
    file_size: int
    sha256: str | None = Field(
        default=None,
        description="Hex sha256 of the output's bytes (absent from agents that do not report "
        "it); the SDK and CLI check downloads against it.",
        # One shape everywhere (result, completed event, webhook): no key when unknown.
        exclude_if=lambda value: value is None,
    )


class TaskOutputBody(BaseModel):
    outputs: list[OutputRead]
    # Non-file outputs by output id (a ComfyUI node's text, outputs skipped by validation…);
    # absent when there are none.
    values: dict[str, Any] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_empty_values(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # One shape everywhere (result, completed event, webhook): no "values" key when empty.
        data: dict[str, Any] = handler(self)
        if not data.get("values"):
            data.pop("values", None)
        return data

    @classmethod
    def of(cls, rows: Iterable[object], values: dict[str, Any] | None = None) -> TaskOutputBody:
        """The contract's ``task_output`` from output rows, in their order."""
        return cls(
            outputs=[OutputRead.model_validate(r, from_attributes=True) for r in rows],
            values=dict(values or {}),
        )


class TaskRead(BaseModel):
    id: str
    workflow_id: str
    workflow_slug: str
    workflow_version: int
    task_status: TaskStatus
    progress: float
    parameters: dict[str, Any]
    task_error: str
    task_error_code: str | None
    retry_count: int
    priority: int = 0
    agent_id: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    waiting_reason: WaitingReason | None = Field(
        default=None,
        description="`GET /r/tasks/{id}` of a pending or waiting task: why no agent runs it "
        "yet and what to do (null otherwise, and in lists).",
    )


class TaskPageMeta(PageMeta):
    total_exact: bool = Field(
        description="False when more than 1,000 tasks match: `total_count` is then 1001, a "
        "lower bound (the count stops there so a list costs the same at any history length)."
    )
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the page after this one at the cost of the first "
        "(null on the last page)."
    )


class TaskList(BaseModel):
    task_list: list[TaskRead]
    page_meta: TaskPageMeta


class TaskResult(BaseModel):
    id: str
    task_status: TaskStatus
    task_output: TaskOutputBody | None
    download_url: str | None
    download_urls: dict[str, str] | None
    expires_at: datetime | None = Field(description="When the outputs stop being downloadable.")
    task_error: str
    task_error_code: str | None
    completed_at: datetime | None


class CancelResult(BaseModel):
    is_success: bool = True
    task_status: TaskStatus
