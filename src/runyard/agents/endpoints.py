from __future__ import annotations

from fastapi import APIRouter

from runyard.agents.schemas import AgentList
from runyard.agents.service import AgentService, to_read
from runyard.api_docs import errors
from runyard.deps import RuntimeReader, SessionDep
from runyard.pagination import PageDep

router = APIRouter(prefix="/r/agents", tags=["runtime"])


@router.get("", response_model=AgentList, operation_id="agents_list", responses=errors())
async def list_agents(principal: RuntimeReader, session: SessionDep, page: PageDep) -> AgentList:
    """The team's agents: labels, status (`idle`, `busy`, `unhealthy`), `connected`, running
    tasks, capacity and last heartbeat."""
    assert principal.team_id
    repo = AgentService(session).repo
    agents, total = await repo.page(principal.team_id, page.offset, page.per_page)
    counts = await repo.running_counts(principal.team_id, [a.agent_id for a in agents])
    return AgentList(
        agent_list=[to_read(a, counts.get(a.agent_id, 0)) for a in agents],
        page_meta=page.meta(total),
    )
