"""The task list at a cost that does not grow with the history (issue 34): the total is counted
only up to a bound and marked when it is a lower bound; ``cursor`` pages by keyset."""

from __future__ import annotations

from typing import Any

import pytest

from runyard.tasks import listing
from tests.integration.api.test_tasks import new_task
from tests.support.app import Harness, Team


async def tasks_page(h: Harness, team: Team, **params: Any) -> Any:
    r = await h.client.get("/api/v1/r/tasks", headers=team.auth(), params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_cursor_pages_match_offset_pages_and_end(harness: Harness, team_a: Team) -> None:
    for _ in range(5):
        await new_task(harness, team_a)
    everything = [t["id"] for t in (await tasks_page(harness, team_a, per_page=10))["task_list"]]
    assert len(everything) == 5
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"per_page": 2}
        if cursor:
            params["cursor"] = cursor
        page = await tasks_page(harness, team_a, **params)
        seen += [t["id"] for t in page["task_list"]]
        meta = page["page_meta"]
        assert meta["total_count"] == 5 and meta["total_exact"] is True
        cursor = meta["next_cursor"]
        if cursor is None:
            break
    assert seen == everything  # newest first, nothing missed or repeated


async def test_a_total_past_the_bound_is_marked(
    harness: Harness, team_a: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(4):
        await new_task(harness, team_a)
    monkeypatch.setattr(listing, "EXACT_UP_TO", 2)
    meta = (await tasks_page(harness, team_a))["page_meta"]
    assert meta["total_count"] == 3 and meta["total_exact"] is False
    exact = (await tasks_page(harness, team_a, task_status="cancelled"))["page_meta"]
    assert exact["total_count"] == 0 and exact["total_exact"] is True


async def test_a_bad_cursor_is_refused_and_a_cursor_stays_in_its_team(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    r = await harness.client.get(
        "/api/v1/r/tasks", headers=team_a.auth(), params={"cursor": "not-a-cursor"}
    )
    assert r.status_code == 400
    assert r.json()["error_code"] == "invalid_request"
    assert "next_cursor" in r.json()["error_message"]
    await new_task(harness, team_a)
    await new_task(harness, team_a)
    cursor = (await tasks_page(harness, team_a, per_page=1))["page_meta"]["next_cursor"]
    assert cursor
    other = await tasks_page(harness, team_b, cursor=cursor)
    assert other["task_list"] == []
