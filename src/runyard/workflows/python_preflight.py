"""A deployed python workflow's pip requirements (``workflow_json.requirements``, from the
bundle's ``requirements.txt``): checked at import, and pre-flight at import and at run against
the Python environments the agents with its labels reported.

The agent's python runtime reports ``runtimes.python.packages`` (``{canonical name: version}``)
and ``runtimes.python.installs_requirements`` (true: started with ``--python-index-url``, it
installs what a bundle needs). An agent that never reported its packages is *unknown*: nothing is
refused on its account (older agents). When every agent that reported neither installs
requirements nor has them all, the run is refused with 422 ``python_requirements_missing``
naming what each lacks. A requirement with an environment marker is left to the agent.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.agents.repository import AgentRepository
from runyard.errors import Unprocessable

__all__ = [
    "check_python_agents",
    "fits",
    "python_info",
    "refusal",
    "requirements_of",
    "requirements_problem",
]

MAX_REQUIREMENTS = 100


def requirements_problem(workflow_json: Mapping[str, Any]) -> str | None:
    """Why ``workflow_json.requirements`` is malformed, or None (also None without it)."""
    raw = workflow_json.get("requirements")
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > MAX_REQUIREMENTS:
        return (
            f"workflow_json.requirements must be a list of at most {MAX_REQUIREMENTS} pip "
            'requirements (e.g. ["pillow>=10"])'
        )
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not 1 <= len(item) <= 500 or item.startswith("-"):
            return f"workflow_json.requirements[{index}] must be one pip requirement"
        try:
            Requirement(item)
        except InvalidRequirement as exc:
            return f"workflow_json.requirements[{index}] {item!r} is not a requirement: {exc}"
    return None


def requirements_of(workflow_json: Mapping[str, Any]) -> list[str]:
    raw = workflow_json.get("requirements")
    return [str(r) for r in raw] if isinstance(raw, list) else []


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Requirement:
    return Requirement(text)


def _lacks(requirements: list[str], python: Mapping[str, Any]) -> list[str]:
    packages = python.get("packages")
    assert isinstance(packages, Mapping)
    lacks = []
    for text in requirements:
        requirement = _parsed(text)
        if requirement.marker is not None:
            continue  # judged by the agent, in its own environment
        version = packages.get(canonicalize_name(requirement.name))
        if version is None:
            lacks.append(f"{text} (not installed)")
        elif not requirement.specifier.contains(str(version), prereleases=True):
            lacks.append(f"{text} ({version} installed)")
    return lacks


def python_info(system_info: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    runtimes = (system_info or {}).get("runtimes")
    python = runtimes.get("python") if isinstance(runtimes, Mapping) else None
    if not isinstance(python, Mapping) or not isinstance(python.get("packages"), Mapping):
        return None
    return python


def fits(requirements: list[str], system_info: Mapping[str, Any] | None) -> bool:
    """Whether an agent that reported ``system_info`` can run a bundle needing
    ``requirements``: unknown agents and agents that install requirements can (the
    dispatcher's choice, and the waiting reason)."""
    if not requirements:
        return True
    python = python_info(system_info)
    if python is None or python.get("installs_requirements") is True:
        return True
    return not _lacks(requirements, python)


def refusal(
    requirements: list[str], agents: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> str | None:
    """Why no agent can run a bundle needing ``requirements``, or None."""
    reported = [(agent_id, python) for agent_id, python in agents if python is not None]
    if not requirements or not reported:
        return None
    if any(python.get("installs_requirements") is True for _, python in reported):
        return None
    gaps = {agent_id: _lacks(requirements, python) for agent_id, python in reported}
    if any(not lacks for lacks in gaps.values()):
        return None
    parts = [f"{agent_id} lacks {', '.join(lacks)}" for agent_id, lacks in sorted(gaps.items())]
    return (
        "No agent for this workflow's labels has its Python requirements, and none installs "
        "them (start one with --python-index-url, or install them where it runs): "
        + "; ".join(parts)
    )


async def check_python_agents(
    session: AsyncSession, team_id: str, labels: list[str], workflow_json: Mapping[str, Any]
) -> None:
    requirements = requirements_of(workflow_json)
    if not requirements:
        return
    agents = await AgentRepository(session).with_labels(team_id, labels)
    problem = refusal(requirements, [(a.agent_id, python_info(a.system_info)) for a in agents])
    if problem is not None:
        raise Unprocessable(problem, code="python_requirements_missing")
