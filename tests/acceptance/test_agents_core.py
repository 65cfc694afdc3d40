"""Agents part 1, end to end with real processes on both legs."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.acceptance.conftest import Stack
from tests.support.processes import wait_until


def png_bytes(color: tuple[int, int, int] = (200, 40, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, "PNG")
    return buf.getvalue()


def test_img2img_processes_an_image(stack: Stack) -> None:
    stack.start_agent("worker-1", capacity=2)
    stack.wait_agent("worker-1")
    original = png_bytes()
    key = stack.upload(original)
    task_id = stack.run("img2img", {"input_image": key, "prompt": "invert", "strength": 1})
    task = stack.wait_task(task_id)
    assert task["task_status"] == "completed", task
    assert task["agent_id"] == "worker-1" and task["retry_count"] == 0
    result = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers()).json()
    assert [o["output_id"] for o in result["task_output"]["outputs"]] == ["image"]
    body = httpx.get(result["download_url"], timeout=10)
    assert body.status_code == 200
    out = Image.open(io.BytesIO(body.content))
    assert out.format == "PNG" and body.content != original
    assert out.convert("RGB").getpixel((0, 0)) == (55, 215, 195)


def test_labels_decide_and_tasks_wait_without_an_eligible_agent(stack: Stack) -> None:
    stack.start_agent("cpu-only", labels="cpu")
    stack.wait_agent("cpu-only")
    task_id = stack.run("sleep-gpu", {"seconds": 0.1})
    wait_until(lambda: stack.task(task_id)["task_status"] == "waiting", 10)
    stack.start_agent("gpu-box", labels="gpu,cuda")
    done = stack.wait_task(task_id)
    assert done["task_status"] == "completed" and done["agent_id"] == "gpu-box"


def test_two_agents_share_load_and_capacity_is_respected(stack: Stack) -> None:
    stack.start_agent("a1", capacity=1)
    stack.start_agent("a2", capacity=1)
    stack.wait_agent("a1")
    stack.wait_agent("a2")
    ids = [stack.run("sleep", {"seconds": 1.5}) for _ in range(4)]

    def running() -> list[dict[str, object]]:
        return [t for t in map(stack.task, ids) if t["task_status"] in ("queued", "running")]

    snapshot = wait_until(lambda: len(running()) == 2 and running(), 10)
    assert {t["agent_id"] for t in snapshot} == {"a1", "a2"}  # type: ignore[union-attr]
    finished = [stack.wait_task(i, timeout=40) for i in ids]
    assert all(t["task_status"] == "completed" for t in finished)
    assert {t["agent_id"] for t in finished} == {"a1", "a2"}


def test_an_agent_never_gets_another_teams_tasks(stack: Stack) -> None:
    assert stack.other_team is not None
    stack.start_agent("theirs", key=stack.other_team.agent_key)
    stack.wait_agent("theirs", key=stack.other_team.integration_key)
    assert stack.agents() == []  # team A does not even see it
    task_id = stack.run("sleep", {"seconds": 0.1})
    wait_until(lambda: stack.task(task_id)["task_status"] == "waiting", 10)
    stack.start_agent("ours")
    assert stack.wait_task(task_id)["agent_id"] == "ours"


def test_gateway_refuses_other_credentials(stack: Stack) -> None:
    ws = stack.url.replace("http", "ws", 1) + "/api/v1/agent/ws"
    import websockets.sync.client as wsc
    from websockets.exceptions import InvalidStatus

    for key, status in (
        (stack.team.integration_key, 403),
        (stack.team.device_key, 403),
        ("ak-not-a-real-key", 401),
        (None, 401),
    ):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            with wsc.connect(ws, additional_headers=headers, open_timeout=5):
                raise AssertionError("connected with a refused credential")
        except InvalidStatus as exc:
            assert exc.response.status_code == status


def test_logs_never_hold_keys_or_signatures(stack: Stack) -> None:
    stack.start_agent("quiet", capacity=1)
    stack.wait_agent("quiet")
    key = stack.upload(png_bytes())
    task_id = stack.run("img2img", {"input_image": key})
    assert stack.wait_task(task_id)["task_status"] == "completed"
    httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers())
    httpx.get(f"{stack.base}/tasks/nope", headers=stack.headers("sk-bogus-key-for-logs"))
    secrets = [
        stack.team.integration_key,
        stack.team.agent_key,
        stack.team.device_key,
        "sk-bogus-key-for-logs",
        "X-Runyard-Signature=",
        "X-Amz-Signature=",
        "Authorization",
    ]
    assert stack.server is not None
    for proc in [stack.server, *stack.procs]:
        log = proc.log()
        assert log, proc.name
        leaked = [s for s in secrets if s in log]
        assert not leaked, f"{proc.name} log holds {leaked}"
