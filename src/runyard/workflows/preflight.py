"""Pre-flight: whether the team's agents can run a workflow's graph, from what each agent's
ComfyUI offers as the agent reports it in ``system_info`` (used at import, at submit, by the
dispatcher's choice of agent and by the waiting reason).

The agent's ComfyUI runtime reports ``runtimes.comfyui.node_classes`` (``/object_info``) and
``runtimes.comfyui.models`` (``{folder: [file, …]}`` from ``/models/<folder>``). An agent that
never reported them is *unknown*: it is neither refused nor preferred (older agents, or a
ComfyUI that was down). An agent that syncs the team's model library also reports what it placed
(``library_sync.models``, same shape): until a library model a task names is there, the
dispatcher passes that agent by (it is still syncing), though pre-flight does not refuse the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.agents.repository import AgentRepository
from runyard.errors import Unprocessable
from runyard.workflows.requirements import FOLDER_ALIASES, Requirements


@dataclass(frozen=True)
class ComfyUICapabilities:
    node_classes: frozenset[str]
    models: Mapping[str, frozenset[str]]
    # Library models the agent's sync placed; None: the agent does not sync the library.
    library: Mapping[str, frozenset[str]] | None = None

    @classmethod
    def of(cls, system_info: Mapping[str, Any] | None) -> ComfyUICapabilities | None:
        runtimes = (system_info or {}).get("runtimes")
        comfy = runtimes.get("comfyui") if isinstance(runtimes, Mapping) else None
        if not isinstance(comfy, Mapping) or not isinstance(comfy.get("node_classes"), list):
            return None
        sync = (system_info or {}).get("library_sync")
        placed = sync.get("models") if isinstance(sync, Mapping) else None
        return cls(
            frozenset(str(c) for c in comfy["node_classes"]),
            _folders(comfy.get("models")),
            _folders(placed) if isinstance(sync, Mapping) else None,
        )

    def has_model(self, folder: str, name: str) -> bool:
        return any(
            name in self.models.get(f, ()) or name in (self.library or {}).get(f, ())
            for f in FOLDER_ALIASES.get(folder, (folder,))
        )

    def missing(self, needs: Requirements, *, dispatching: bool = False) -> list[str]:
        """What of ``needs`` this ComfyUI lacks, readable: ``node class X``, ``model f/n``.
        ``dispatching``: library models count too when the agent syncs the library (it gets
        the task once it holds them)."""
        lacks = [f"node class {c}" for c in sorted(needs.node_classes - self.node_classes)]
        lacks += [
            f"model {folder}/{name}"
            for folder, name in sorted(needs.models - needs.fetchable)
            if not self.has_model(folder, name)
        ]
        if dispatching and self.library is not None:
            lacks += [
                f"library model {folder}/{name} (syncing)"
                for folder, name in sorted(needs.library)
                if not self.has_model(folder, name)
            ]
        return lacks

    def holds(self, needs: Requirements) -> int:
        """How many of the needed models are already here (for preferring agents)."""
        wanted = needs.models | needs.fetchable
        return sum(1 for folder, name in wanted if self.has_model(folder, name))


def _folders(value: object) -> dict[str, frozenset[str]]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(folder): frozenset(str(n) for n in names)
        for folder, names in value.items()
        if isinstance(names, list)
    }


def refusal(
    needs: Requirements,
    agents: Iterable[tuple[str, ComfyUICapabilities | None]],
    *,
    dispatching: bool = False,
) -> str | None:
    """Why no agent can run a graph with ``needs``, or None: when one of the agents that reported
    has everything, or none reported (then nothing is known and nothing is refused).
    ``dispatching``: also library models that syncing agents do not hold yet."""
    reported = [(agent_id, caps) for agent_id, caps in agents if caps is not None]
    if not (needs or needs.library) or not reported:
        return None
    gaps = {agent_id: caps.missing(needs, dispatching=dispatching) for agent_id, caps in reported}
    if any(not lacks for lacks in gaps.values()):
        return None
    everywhere = set.intersection(*(set(lacks) for lacks in gaps.values()))
    parts = [f"{item} is on none of them" for item in sorted(everywhere)]
    for agent_id, lacks in sorted(gaps.items()):
        own = [item for item in lacks if item not in everywhere]
        if own:
            parts.append(f"{agent_id} lacks {', '.join(own)}")
    names = ", ".join(sorted(gaps))
    return (
        f"No ComfyUI agent for this workflow's labels can run its graph (agents that reported: "
        f"{names}): " + "; ".join(parts)
    )


async def check_comfyui_agents(
    session: AsyncSession, team_id: str, labels: list[str], needs: Requirements
) -> None:
    """422 ``comfyui_requirements_missing`` when the team's agents with ``labels`` that
    reported their ComfyUI all lack something the graph needs (see ``refusal``)."""
    if not needs:
        return
    agents = await AgentRepository(session).with_labels(team_id, labels)
    problem = refusal(needs, [(a.agent_id, ComfyUICapabilities.of(a.system_info)) for a in agents])
    if problem is not None:
        raise Unprocessable(problem, code="comfyui_requirements_missing")
