from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from runyard.pagination import PageMeta

AgentStatus = Literal["idle", "busy", "unhealthy", "offline"]


class AgentRead(BaseModel):
    agent_id: str
    agent_labels: list[str]
    agent_status: AgentStatus
    running_tasks: int
    capacity: int
    last_heartbeat: datetime | None
    agent_version: str
    system_info: dict[str, Any]
    connected_at: datetime | None


class AgentList(BaseModel):
    agent_list: list[AgentRead]
    page_meta: PageMeta
