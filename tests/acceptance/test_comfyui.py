"""Agents part 3 end to end: Runyard server -> agent (comfyui runtime) -> the ComfyUI stand-in,
all real processes. The example workflow file of docs/comfyui.md is the one imported."""

from __future__ import annotations

import io
from array import array
from pathlib import Path
from typing import Any

import httpx
import yaml
from PIL import Image, ImageChops

from tests.acceptance.conftest import Stack
from tests.support.processes import Proc, python_cmd, wait_http, wait_until
from tests.support.s3 import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "comfyui-invert.yaml"


def import_workflow(stack: Stack, **changes: Any) -> dict[str, Any]:
    definition = yaml.safe_load(EXAMPLE.read_text())
    definition.update(changes)
    r = httpx.post(
        f"{stack.url}/api/v1/workflows/import", headers=stack.session_headers(), json=definition
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def standin(stack: Stack, *extra: str) -> str:
    port = free_port()
    proc = Proc(
        f"comfyui-{port}",
        python_cmd("-m", "runyard_testing.comfyui_standin", "--port", str(port), *extra),
        stack.env,
        stack.logs,
    )
    stack.procs.append(proc)
    wait_http(f"http://127.0.0.1:{port}/queue", proc=proc)
    return f"http://127.0.0.1:{port}"


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, "PNG")
    return buf.getvalue()


def test_graph_runs_end_to_end_with_progress_and_output(stack: Stack) -> None:
    url = standin(stack, "--node-delay", "0.4")
    stack.start_agent("gpu-1", labels="gpu,comfyui", extra=["--comfyui-url", url])
    stack.wait_agent("gpu-1")
    import_workflow(stack)
    original = png((10, 200, 30))
    key = stack.upload(original)
    task_id = stack.run("comfyui-invert", {"input_image": key, "filename_prefix": "e2e/out"})
    done = stack.wait_task(task_id, timeout=40)
    assert done["task_status"] == "completed", done
    result = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers()).json()
    assert [o["output_id"] for o in result["task_output"]["outputs"]] == ["9.images.0"]
    image = Image.open(io.BytesIO(httpx.get(result["download_url"]).content)).convert("RGB")
    # ComfyUI computes in float32 and truncates when saving (v/255 → 1-x → 255*y → uint8).
    inverted = [array("f", [1.0 - x])[0] for x in array("f", [c / 255.0 for c in (10, 200, 30)])]
    color = tuple(int(array("f", [255.0 * y])[0]) for y in inverted)
    assert color == (245, 54, 225)  # not ImageChops.invert's (245, 55, 225)
    assert ImageChops.difference(image, Image.new("RGB", image.size, color)).getbbox() is None
    events = httpx.get(f"{stack.base}/tasks/{task_id}/events", headers=stack.headers()).text
    assert '"current_node":"' in events  # progress relayed with the node


def test_validation_and_runtime_errors_name_the_node(stack: Stack) -> None:
    url = standin(stack)
    stack.start_agent("gpu-2", labels="gpu,comfyui", extra=["--comfyui-url", url])
    stack.wait_agent("gpu-2")
    import_workflow(stack)
    key = stack.upload(png((1, 2, 3)))
    bad_prefix = stack.run("comfyui-invert", {"input_image": key, "filename_prefix": "../x"})
    failed = stack.wait_task(bad_prefix, timeout=40)
    assert failed["task_status"] == "failed"
    assert failed["task_error_code"] == "comfyui_execution_error"
    assert "9" in failed["task_error"] and "SaveImage" in failed["task_error"]
    graph = yaml.safe_load(EXAMPLE.read_text())["workflow_json"]
    graph["2"] = {
        "class_type": "ImageBlur",
        "inputs": {"image": ["1", 0], "blur_radius": 99, "sigma": 1.0},
    }
    import_workflow(stack, workflow_slug="comfyui-blur", workflow_json=graph)
    rejected = stack.run("comfyui-blur", {"input_image": key})
    failed = stack.wait_task(rejected, timeout=40)
    assert failed["task_error_code"] == "comfyui_validation_failed"
    assert "ImageBlur" in failed["task_error"] and "blur_radius" in failed["task_error"]


def test_cancel_interrupts_the_prompt(stack: Stack) -> None:
    url = standin(stack, "--node-delay", "3")
    stack.start_agent("gpu-3", labels="gpu,comfyui", extra=["--comfyui-url", url])
    stack.wait_agent("gpu-3")
    import_workflow(stack)
    task_id = stack.run("comfyui-invert", {"input_image": stack.upload(png((5, 5, 5)))})
    wait_until(lambda: stack.task(task_id)["task_status"] == "running", 20)
    httpx.post(f"{stack.base}/tasks/{task_id}/cancel", headers=stack.headers())
    assert stack.wait_task(task_id, timeout=20)["task_status"] == "cancelled"
    # the prompt was interrupted on ComfyUI, not left running there
    wait_until(lambda: not httpx.get(f"{url}/queue").json()["queue_running"], 10)
    history = httpx.get(f"{url}/history").json()
    assert any(
        m[0] == "execution_interrupted" for h in history.values() for m in h["status"]["messages"]
    )


def test_an_unhealthy_comfyui_keeps_tasks_away(stack: Stack) -> None:
    url = standin(stack, "--fail-health")
    stack.start_agent("gpu-sick", labels="gpu,comfyui", extra=["--comfyui-url", url])
    stack.wait_agent("gpu-sick", status="unhealthy")
    import_workflow(stack)
    task_id = stack.run("comfyui-invert", {"input_image": stack.upload(png((9, 9, 9)))})
    wait_until(lambda: stack.task(task_id)["task_status"] == "waiting", 10)
    assert stack.task(task_id)["agent_id"] is None


def test_an_interrupt_in_comfyuis_own_ui_ends_the_task_cancelled(stack: Stack) -> None:
    url = standin(stack, "--node-delay", "2")
    stack.start_agent("gpu-ui", labels="gpu,comfyui", extra=["--comfyui-url", url])
    stack.wait_agent("gpu-ui")
    import_workflow(stack)
    task_id = stack.run("comfyui-invert", {"input_image": stack.upload(png((6, 6, 6)))})
    wait_until(lambda: stack.task(task_id)["task_status"] == "running", 20)
    httpx.post(f"{url}/interrupt", json={})  # ComfyUI's Cancel button: no prompt id
    done = stack.wait_task(task_id, timeout=30)
    assert done["task_status"] == "cancelled", done
    assert "ComfyUI interrupted the prompt" in done["task_error"]


def _pid_of(fragment: str) -> int | None:
    """Our own stand-in's pid, found by its unique data directory on its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        # Whole arguments: the agent's own command line holds the command as one string.
        if fragment in argv and "runyard_testing.comfyui_standin" in argv:
            return int(entry.name)
    return None


def test_a_supervised_comfyui_killed_mid_task_comes_back_and_the_task_completes(
    stack: Stack,
) -> None:
    import os
    import shlex
    import signal

    port = free_port()
    comfy_dir = stack.logs / f"supervised-comfy-{port}"
    comfy_dir.mkdir()
    command = shlex.join(
        python_cmd("-m", "runyard_testing.comfyui_standin", "--port", "{port}")
        + ["--data-dir", str(comfy_dir), "--node-delay", "1"]
    ).replace("'{port}'", "{port}")
    stack.start_agent(
        "gpu-sup",
        labels="gpu,comfyui",
        extra=[
            "--comfyui-url",
            f"http://127.0.0.1:{port}",
            "--comfyui-command",
            command,
            "--comfyui-dir",
            str(comfy_dir),
        ],
    )
    stack.wait_agent("gpu-sup", timeout=60)
    first = _pid_of(str(comfy_dir))
    assert first is not None
    import_workflow(stack)
    task_id = stack.run("comfyui-invert", {"input_image": stack.upload(png((7, 7, 7)))})
    wait_until(lambda: stack.task(task_id)["task_status"] == "running", 30)
    wait_until(
        lambda: bool(httpx.get(f"http://127.0.0.1:{port}/queue").json()["queue_running"]), 20
    )
    os.kill(first, signal.SIGKILL)
    done = stack.wait_task(task_id, timeout=90)
    assert done["task_status"] == "completed", done
    second = _pid_of(str(comfy_dir))
    assert second is not None and second != first  # the agent started a new ComfyUI
    # The supervised ComfyUI's console lines of the task's prompt are the task's log.
    logs = httpx.get(f"{stack.base}/tasks/{task_id}/logs", headers=stack.headers(), timeout=10)
    assert logs.status_code == 200, logs.text
    assert "got prompt" in logs.text and "Prompt executed in " in logs.text
    # Disk hygiene: the task's upload left ComfyUI's input folder once the task ended.
    wait_until(lambda: not any(p.is_file() for p in (comfy_dir / "input").rglob("*")), 10)
