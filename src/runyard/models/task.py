from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from runyard.db.base import Base, UTCDateTime, new_id, utcnow
from runyard.states import SCHEDULABLE, TaskStatus, rank_at, requirement_key, sql_list


class TaskStatusType(TypeDecorator[TaskStatus]):
    """``task_status`` as a plain string column that reads back as ``TaskStatus``; a value
    outside the enum fails on write, not silently."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else TaskStatus(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> TaskStatus | None:
        return None if value is None else TaskStatus(value)


def _requirement_key(context: DefaultExecutionContext) -> str:
    params: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return requirement_key(params.get("tool_type") or "python", params["required_labels"] or [])


def _rank_at(context: DefaultExecutionContext) -> datetime:
    params: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return rank_at(params["created_at"], params.get("priority") or 0)


#: Where the dispatcher claims from: a team's schedulable tasks per queue, in rank order.
SCHEDULABLE_WHERE = text(f"task_status IN ({sql_list(SCHEDULABLE)})")


class Task(Base):
    """One run of one workflow version. ``attempt`` fences frames of earlier assignments."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_team_created", "team_id", "created_at"),
        Index("ix_tasks_status_created", "task_status", "created_at"),
        Index("ix_tasks_agent", "team_id", "agent_id"),
        Index("ix_tasks_team_status", "team_id", "task_status"),
        Index(
            "ix_tasks_schedulable",
            "team_id",
            "requirement_key",
            "rank_at",
            "id",
            postgresql_where=SCHEDULABLE_WHERE,
            sqlite_where=SCHEDULABLE_WHERE,
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(String(36), ForeignKey("teams.id", ondelete="CASCADE"))
    workflow_id: Mapped[str] = mapped_column(String(36), ForeignKey("workflows.id"))
    workflow_slug: Mapped[str] = mapped_column(String(100))
    workflow_version: Mapped[int] = mapped_column(Integer)
    task_status: Mapped[TaskStatus] = mapped_column(TaskStatusType(), default=TaskStatus.PENDING)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    required_labels: Mapped[list[str]] = mapped_column(JSON)
    task_timeout: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    task_error: Mapped[str] = mapped_column(Text, default="")
    task_error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outputs_expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Non-file outputs (text…) of the completed attempt, by output id; served as
    # task_output.values.
    output_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: -10 (last) … 10 (first); see ``runyard.states.rank_at`` for how it ages.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    tool_type: Mapped[str] = mapped_column(String(16), default="python")
    #: The queue the task waits in (``runyard.states.requirement_key``) and its rank there.
    requirement_key: Mapped[str] = mapped_column(String(400), default=_requirement_key)
    rank_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_rank_at)
