"""docs/operating.md names the state the scheduler really gives tasks no agent can take."""

from __future__ import annotations

from pathlib import Path

from runyard.states import TaskStatus

DOC = Path(__file__).resolve().parents[3] / "docs" / "operating.md"


def test_unhealthy_runtime_paragraph_names_waiting_not_pending() -> None:
    text = " ".join(DOC.read_text().split())
    start = text.index("An agent labelled `comfyui` whose ComfyUI does not answer")
    paragraph = text[start : text.index("Start ComfyUI before the agent", start)]
    # The dispatcher's _mark_waiting moves such tasks to WAITING (no able agent: labels or runtime).
    assert f"the task shows `{TaskStatus.WAITING.value}`" in paragraph
    assert "stays `pending`" not in paragraph
