"""The team's queue cap (``limits.queued_tasks_per_team``) at a constant cost per submit.

The cap is a safety limit (a runaway client cannot queue without bound), not a quota to the
unit: counting a team's unfinished tasks on every submit cost a scan of up to ``cap`` index
entries (68 ms at 100k). So each server process remembers, per team, the last count and how many
tasks it admitted since; while that sum stays a margin below the cap and the count is fresh, a
submit is admitted without counting. Near the cap, or after ``recount_after`` seconds, it counts
again (bounded by the cap). Several processes submitting for one team at once can overshoot the
cap by what the others admit within one recount window; docs/operating.md says so.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

TEAMS_KEPT = 10_000


@dataclass
class _Seen:
    active: int
    admitted: int
    at: float


class QueueCap:
    def __init__(
        self,
        cap: int | Callable[[], int],
        *,
        recount_after: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cap = cap
        self.recount_after = recount_after
        self.monotonic = monotonic
        self._teams: OrderedDict[str, _Seen] = OrderedDict()

    @property
    def cap(self) -> int:
        """The cap now (a setting, read each time)."""
        return self._cap if isinstance(self._cap, int) else self._cap()

    def must_count(self, team_id: str) -> bool:
        """Whether this submit must count the team's unfinished tasks first."""
        seen = self._teams.get(team_id)
        if seen is None or self.monotonic() - seen.at >= self.recount_after:
            return True
        cap = self.cap
        return seen.active + seen.admitted >= cap - cap // 10

    def counted(self, team_id: str, active: int) -> None:
        self._teams[team_id] = _Seen(active, 0, self.monotonic())
        self._teams.move_to_end(team_id)
        while len(self._teams) > TEAMS_KEPT:
            self._teams.popitem(last=False)

    def admitted(self, team_id: str) -> None:
        seen = self._teams.get(team_id)
        if seen is not None:
            seen.admitted += 1
