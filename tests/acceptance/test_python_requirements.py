"""A deployed bundle's requirements.txt, end to end with real processes: deploy carries it; while
the only agent's Python lacks it a run is refused at once, naming it; an agent started with
--python-index-url is then chosen over that one, installs the requirement once from a local
package index and runs the task with it."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.acceptance.conftest import Stack
from tests.acceptance.test_python_deploy import _cli, _values
from tests.support.pyindex import serve_index

FLOWS = """
from runyard_agent import TaskContext, workflow


@workflow("tiny", labels=["cpu"], max_retries=0)
def tiny(ctx: TaskContext) -> str:
    import tinyreq  # inside: deploy imports this module where tinyreq is not installed

    return f"tinyreq {tinyreq.VALUE}"
"""


def test_requirements_are_checked_installed_and_used(stack: Stack, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "flows.py").write_text(FLOWS)
    (code / "requirements.txt").write_text("tinyreq==1.0  # from the team's index\n")
    deployed = _cli(stack, tmp_path, "workflows", "deploy", str(code))
    assert deployed.returncode == 0, deployed.stderr

    stack.start_agent("plain")
    stack.wait_agent("plain")
    refused = httpx.post(
        f"{stack.base}/workflows/slug/tiny/run",
        headers=stack.headers(),
        json={"parameters": {}},
        timeout=10,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error_code"] == "python_requirements_missing"
    assert "plain lacks tinyreq==1.0 (not installed)" in refused.json()["error_message"]

    with serve_index(tmp_path / "index", "tinyreq", ["1.0", "2.0"]) as url:
        stack.start_agent("installer", extra=["--python-index-url", url])
        stack.wait_agent("installer")
        task_id = stack.run("tiny", {})  # plain is passed by: it lacks tinyreq
        done = stack.wait_task(task_id, timeout=180)
        assert done["task_status"] == "completed", done
        assert done["agent_id"] == "installer"
        assert _values(stack, task_id)["values"] == {"result": "tinyreq 1.0"}
        again = stack.wait_task(stack.run("tiny", {}), timeout=60)  # installed once: reused
        assert again["task_status"] == "completed", again
    envs = stack.logs / "work-installer" / "envs"
    assert len([p for p in envs.iterdir() if not p.name.startswith("build-")]) == 1
