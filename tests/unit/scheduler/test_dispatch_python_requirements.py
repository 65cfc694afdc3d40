"""The dispatcher passes by an agent whose Python lacks a bundle's requirements (and takes one
that installs them, or never reported)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from runyard.scheduler.dispatcher import Dispatcher


def _agent(python: dict[str, Any] | None) -> Any:
    info = {"runtimes": {"python": {"healthy": True, **python}}} if python is not None else {}
    return SimpleNamespace(labels={"cpu"}, runtimes={"python"}, comfyui=None, system_info=info)


def _pick(agents: list[Any]) -> Any:
    task = SimpleNamespace(required_labels=["cpu"], parameters={})
    version = SimpleNamespace(
        tool_type="python",
        workflow_json={"entrypoint": "flows:run", "requirements": ["pillow>=11"]},
        parameters=[],
    )
    return Dispatcher._pick(task, version, agents, {id(a): 1 for a in agents})  # type: ignore[arg-type]


def test_an_agent_lacking_the_requirements_is_passed_by() -> None:
    lacking = _agent({"packages": {"pillow": "10.0.0"}})
    having = _agent({"packages": {"pillow": "11.1.0"}})
    assert _pick([lacking]) is None
    assert _pick([lacking, having]) is having
    installing = _agent({"packages": {}, "installs_requirements": True})
    assert _pick([lacking, installing]) is installing
    unknown = _agent(None)
    assert _pick([lacking, unknown]) is unknown
