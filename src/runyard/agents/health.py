"""Agent-health policy: which runtimes an agent reports healthy, and when the agent as a whole
counts as unhealthy."""

from __future__ import annotations


def healthy_runtimes(system_info: dict[str, object] | None, fallback: set[str]) -> set[str]:
    """Runtimes the agent reports healthy (``system_info["runtimes"][name]["healthy"]``)."""
    details = (system_info or {}).get("runtimes")
    if not isinstance(details, dict):
        return fallback
    return {n for n, d in details.items() if isinstance(d, dict) and d.get("healthy")}


def effective_health(reported: bool, labels: set[str], runtimes: set[str]) -> bool:
    """An agent labelled ``comfyui`` is unhealthy while its ComfyUI is down: that is the work
    it was set up for, and an operator must see it. Other runtimes gate dispatch per task."""
    return reported and not ("comfyui" in labels and "comfyui" not in runtimes)
