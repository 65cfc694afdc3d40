"""Tasks: cancel in each state, result shape per state, 410 after retention, isolation."""

from __future__ import annotations

from runyard.models import Task
from runyard.states import TaskStatus
from runyard.tasks import lifecycle
from tests.support import tasks as drive
from tests.support.app import Harness, Team

PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 64


async def new_task(h: Harness, team: Team) -> str:
    key = await h.upload(team, PNG)
    r = await h.client.post(
        "/api/v1/r/workflows/slug/img2img/run",
        headers=team.auth("integration"),
        json={"parameters": {"input_image": key}},
    )
    assert r.status_code == 202
    return str(r.json()["task_id"])


async def status(h: Harness, team: Team, task_id: str) -> dict[str, object]:
    return dict((await h.client.get(f"/api/v1/r/tasks/{task_id}", headers=team.auth())).json())


async def cancel(h: Harness, team: Team, task_id: str) -> dict[str, object]:
    r = await h.client.post(f"/api/v1/r/tasks/{task_id}/cancel", headers=team.auth("integration"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_cancel_in_each_state(harness: Harness, team_a: Team) -> None:
    pending = await new_task(harness, team_a)
    assert (await cancel(harness, team_a, pending))["task_status"] == "cancelled"

    waiting = await new_task(harness, team_a)
    async with harness.app.state.services.db.unit() as uow:
        task = await uow.session.get(Task, waiting)
        assert task is not None
        lifecycle.move(uow, task, TaskStatus.WAITING, harness.clock.now())
    assert (await cancel(harness, team_a, waiting))["task_status"] == "cancelled"

    queued = await new_task(harness, team_a)
    await drive.assign(harness, queued)
    assert (await cancel(harness, team_a, queued))["task_status"] == "cancelled"

    running = await new_task(harness, team_a)
    await drive.start(harness, running)
    assert (await cancel(harness, team_a, running))["task_status"] == "running"  # agent told
    assert (await status(harness, team_a, running))["task_status"] == "running"

    done = await new_task(harness, team_a)
    await drive.complete(harness, done, {"image": b"out"})
    body = await cancel(harness, team_a, done)
    assert body == {"is_success": True, "task_status": "completed"}  # terminal: left as is
    assert (await status(harness, team_a, done))["task_status"] == "completed"


async def test_result_shape_per_state_and_retention(harness: Harness, team_a: Team) -> None:
    task_id = await new_task(harness, team_a)
    before = (
        await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    ).json()
    assert before["task_status"] == "pending"
    for field in ("task_output", "download_url", "download_urls", "expires_at", "completed_at"):
        assert before[field] is None
    assert before["task_error"] == "" and before["task_error_code"] is None
    await drive.complete(harness, task_id, {"image": b"first", "mask": b"second"})
    done = (
        await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    ).json()
    assert done["task_status"] == "completed" and done["expires_at"].endswith("Z")
    assert [o["output_id"] for o in done["task_output"]["outputs"]] == ["image", "mask"]
    assert done["download_url"] == done["download_urls"]["image"]
    got = await harness.client.get(done["download_urls"]["mask"])
    assert got.status_code == 200 and got.content == b"second"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in got.headers["content-disposition"]
    again = (
        await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    ).json()
    assert again["task_output"] == done["task_output"]
    harness.clock.advance(days=7, seconds=1)
    gone = await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    assert gone.status_code == 410 and gone.json()["error_code"] == "outputs_expired"


async def test_failed_task_result_says_why(harness: Harness, team_a: Team) -> None:
    task_id = await new_task(harness, team_a)
    ref = await drive.start(harness, task_id)
    from runyard.tasks.execution import TaskExecution

    async with harness.app.state.services.db.unit() as uow:
        await TaskExecution(uow, harness.settings).fail(
            ref, task_id, 1, "invalid_input", "input_image is not an image", harness.clock.now()
        )
    body = (
        await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    ).json()
    assert body["task_status"] == "failed" and body["task_error_code"] == "invalid_input"
    assert body["task_output"] is None and body["download_url"] is None


async def test_a_runtime_stop_ends_the_task_cancelled_saying_why(
    harness: Harness, team_a: Team
) -> None:
    # Interrupted in ComfyUI's own UI: the agent reports a runtime stop, no cancel was asked.
    from runyard.tasks.execution import TaskExecution

    task_id = await new_task(harness, team_a)
    ref = await drive.start(harness, task_id)
    async with harness.app.state.services.db.unit() as uow:
        await TaskExecution(uow, harness.settings).cancelled(
            ref,
            task_id,
            1,
            harness.clock.now(),
            by_runtime=True,
            message="ComfyUI interrupted the prompt at node 3 (ImageBlur)",
        )
    body = await status(harness, team_a, task_id)
    assert body["task_status"] == "cancelled"
    assert body["task_error"] == "ComfyUI interrupted the prompt at node 3 (ImageBlur)"
    # An unrequested confirmation from an older agent still means "back to the queue".
    other = await new_task(harness, team_a)
    ref = await drive.start(harness, other)
    async with harness.app.state.services.db.unit() as uow:
        await TaskExecution(uow, harness.settings).cancelled(ref, other, 1, harness.clock.now())
    assert (await status(harness, team_a, other))["task_status"] == "pending"


async def test_non_file_values_are_served_in_task_output(harness: Harness, team_a: Team) -> None:
    task_id = await new_task(harness, team_a)
    await drive.complete(harness, task_id, {"image": b"x"}, values={"4.text.0": "a caption"})
    done = (
        await harness.client.get(f"/api/v1/r/tasks/{task_id}/result", headers=team_a.auth())
    ).json()
    assert done["task_output"]["values"] == {"4.text.0": "a caption"}
    assert [o["output_id"] for o in done["task_output"]["outputs"]] == ["image"]


async def test_list_filter_and_paging(harness: Harness, team_a: Team) -> None:
    ids = [await new_task(harness, team_a) for _ in range(3)]
    await cancel(harness, team_a, ids[0])
    page = (
        await harness.client.get("/api/v1/r/tasks?per_page=2&current_page=1", headers=team_a.auth())
    ).json()
    assert [t["id"] for t in page["task_list"]] == [ids[2], ids[1]]  # newest first
    meta = page["page_meta"]
    assert {k: meta[k] for k in ("current_page", "per_page", "total_count")} == {
        "current_page": 1,
        "per_page": 2,
        "total_count": 3,
    }
    assert meta["total_exact"] is True and meta["next_cursor"]  # a third task follows
    filtered = (
        await harness.client.get("/api/v1/r/tasks?task_status=cancelled", headers=team_a.auth())
    ).json()
    assert [t["id"] for t in filtered["task_list"]] == [ids[0]]
    bad = await harness.client.get("/api/v1/r/tasks?per_page=101", headers=team_a.auth())
    assert bad.status_code == 422 and bad.json()["error_code"] == "invalid_request"


async def test_other_teams_tasks_are_404(harness: Harness, team_a: Team, team_b: Team) -> None:
    task_id = await new_task(harness, team_a)
    for method, path in (
        ("GET", f"/api/v1/r/tasks/{task_id}"),
        ("GET", f"/api/v1/r/tasks/{task_id}/result"),
        ("GET", f"/api/v1/r/tasks/{task_id}/events"),
        ("POST", f"/api/v1/r/tasks/{task_id}/cancel"),
    ):
        r = await harness.client.request(method, path, headers=team_b.auth("integration"))
        assert r.status_code == 404 and r.json()["error_code"] == "task_not_found", path
    listed = (await harness.client.get("/api/v1/r/tasks", headers=team_b.auth())).json()
    assert listed["task_list"] == []
    assert (await status(harness, team_a, task_id))["task_status"] == "pending"


async def test_list_filter_by_workflow_and_time(harness: Harness, team_a: Team) -> None:
    first = await new_task(harness, team_a)
    key = await harness.upload(team_a, PNG, name="a.txt", content_type="text/plain")
    r = await harness.client.post(
        "/api/v1/r/workflows/slug/echo/run",
        headers=team_a.auth("integration"),
        json={"parameters": {"input_file": key}},
    )
    assert r.status_code == 202, r.text
    echo = str(r.json()["task_id"])

    async def ids(query: str) -> list[str]:
        r = await harness.client.get(f"/api/v1/r/tasks?{query}", headers=team_a.auth())
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["task_list"]]

    assert await ids("workflow_slug=echo") == [echo]
    echo_wf = (await status(harness, team_a, echo))["workflow_id"]
    assert await ids(f"workflow_id={echo_wf}") == [echo]
    assert await ids("workflow_slug=img2img&task_status=pending") == [first]
    created = str((await status(harness, team_a, first))["created_at"])
    assert set(await ids(f"created_after={created}")) == {first, echo}
    assert await ids(f"created_before={created}") == []
    assert await ids("created_after=2999-01-01T00:00:00") == []
    bad = await harness.client.get("/api/v1/r/tasks?created_after=yesterday", headers=team_a.auth())
    assert bad.status_code == 422
