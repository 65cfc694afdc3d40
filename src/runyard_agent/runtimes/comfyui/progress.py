"""Turn ComfyUI's execution events into one overall progress fraction.

The fraction is ``(nodes done + the running node's value/max) / nodes in the graph``: cached
nodes count as done, a node is done when ``progress_state`` says ``finished`` or when the next
``executing`` arrives. It never goes backwards and stays below 1.0 until ``finished()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runyard_agent.runtimes.base import ProgressReport

_RUNNING_CAP = 0.99


class ProgressTracker:
    def __init__(self, graph: Mapping[str, Mapping[str, Any]]) -> None:
        self._class_types = {str(k): str(v.get("class_type", "")) for k, v in graph.items()}
        self._total = max(1, len(self._class_types))
        self._done: set[str] = set()
        self._current: str | None = None
        self._value = 0.0
        self._max = 0.0
        self._steps_known = False
        self._floor = 0.0

    @property
    def done_nodes(self) -> frozenset[str]:
        return frozenset(self._done)

    def cached(self, nodes: Iterable[Any]) -> ProgressReport:
        self._mark_done(str(n) for n in nodes)
        return self.report()

    def executing(self, node: str) -> ProgressReport:
        self._start(node)
        return self.report()

    def step(self, node: str, value: float, maximum: float) -> ProgressReport:
        """A ``progress`` message: the running node reports ``value`` of ``maximum``."""
        self._start(node)
        self._value, self._max, self._steps_known = float(value), float(maximum), True
        return self.report()

    def node_states(self, nodes: Mapping[str, Any]) -> ProgressReport:
        """A ``progress_state`` message: ``{node_id: {"value", "max", "state"}}``."""
        finished = [str(k) for k, s in nodes.items() if isinstance(s, Mapping) and _finished(s)]
        self._mark_done(finished)
        running = [
            (str(k), s)
            for k, s in nodes.items()
            if isinstance(s, Mapping) and s.get("state") == "running"
        ]
        # Keep following the current node while it runs; otherwise the running one is current.
        chosen = next(
            (r for r in running if r[0] == self._current), running[0] if running else None
        )
        if chosen is not None:
            node, state = chosen
            self._start(node)
            value, maximum = _number(state.get("value")), _number(state.get("max"))
            if maximum > 0:
                self._value, self._max = value, maximum
                self._steps_known = self._steps_known or maximum > 1
        return self.report()

    def finished(self) -> ProgressReport:
        self._floor = 1.0
        return ProgressReport(1.0, message="finished")

    def report(self) -> ProgressReport:
        current = self._current
        running = current is not None and current not in self._done
        partial = min(1.0, self._value / self._max) if running and self._max > 0 else 0.0
        fraction = min((len(self._done) + partial) / self._total, _RUNNING_CAP)
        self._floor = max(self._floor, fraction)
        show_steps = running and self._steps_known and self._max > 0
        return ProgressReport(
            progress=round(self._floor, 4),
            step_current=int(self._value) if show_steps else None,
            step_total=int(self._max) if show_steps else None,
            current_node=current,
            message=self._class_types.get(current) if current is not None else None,
        )

    def _start(self, node: str) -> None:
        if node == self._current:
            return
        if self._current is not None:
            # ComfyUI runs one node at a time: the next `executing` means the last one finished.
            self._mark_done([self._current])
        self._current = node
        self._value = self._max = 0.0
        self._steps_known = False

    def _mark_done(self, nodes: Iterable[str]) -> None:
        self._done.update(n for n in nodes if n in self._class_types)


def _finished(state: Mapping[str, Any]) -> bool:
    return state.get("state") == "finished"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
