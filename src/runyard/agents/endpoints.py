from __future__ import annotations

from fastapi import APIRouter

from runyard.agents.schemas import AgentList
from runyard.agents.service import AgentService
from runyard.api_docs import errors
from runyard.deps import RuntimeReader, UnitDep
from runyard.pagination import PageDep

router = APIRouter(prefix="/r/agents", tags=["runtime"])


@router.get("", response_model=AgentList, operation_id="agents_list", responses=errors())
async def list_agents(principal: RuntimeReader, uow: UnitDep, page: PageDep) -> AgentList:
    """The team's agents: labels, status (`idle`, `busy`, `unhealthy`), `connected`, running
    tasks, capacity and last heartbeat."""
    agents, total = await AgentService(uow).page(principal.team, page.offset, page.per_page)
    return AgentList(agent_list=agents, page_meta=page.meta(total))
