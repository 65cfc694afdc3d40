"""A user's typed workflow passes ``mypy --strict`` with the plugin (``File["image/*"]`` reads as
``Path``), and the plugin hides no real mistake. One mypy run: it is slow (it reads the agent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[3] / "examples" / "python" / "thumbnail.py"

LINT_FRIENDLY = '''
from pathlib import Path
from typing import Annotated, Literal

from runyard_agent import File, Param, TaskContext, workflow


@workflow("plain", labels=["cpu"])
def plain(
    ctx: TaskContext,
    image: File[Literal["image/*"]],
    anything: File,
    size: Annotated[int, Param(ge=1, le=9)] = 3,
) -> Path:
    """Doc."""
    return ctx.output_dir / image.name / anything.name / str(size)


def caller(ctx: TaskContext) -> Path:
    return plain(ctx, Path("a"), Path("b"), 4)
'''

MISTAKE = """
from pathlib import Path
from runyard_agent import File, TaskContext, workflow


@workflow("wrong")
def wrong(ctx: TaskContext, image: File["image/*"]) -> Path:
    return image.nonexistent_attribute
"""


def test_typed_workflows_pass_mypy_strict_with_the_plugin(tmp_path):
    (tmp_path / "thumbnail.py").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "lint_friendly.py").write_text(LINT_FRIENDLY, encoding="utf-8")
    (tmp_path / "mistake.py").write_text(MISTAKE, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nplugins = runyard_agent.mypy_plugin\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert errors, result.stdout + result.stderr
    assert all(line.startswith("mistake.py:") for line in errors), result.stdout
    assert 'mistake.py:8: error: "Path" has no attribute "nonexistent_attribute"' in result.stdout
