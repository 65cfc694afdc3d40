"""The agent's outbox: outcomes kept until acknowledged, on disk across restarts."""

from __future__ import annotations

from pathlib import Path

from runyard_agent.outbox import Outbox
from runyard_protocol import OutputSpec, TaskComplete, TaskFail, TaskRelease


def _complete(task: str, attempt: int = 1) -> TaskComplete:
    spec = OutputSpec(output_id="o", file_name="o.png", content_type="image/png", file_size=3)
    return TaskComplete(task_id=task, attempt=attempt, outputs=[spec])


def test_outcomes_survive_a_restart_until_acknowledged(tmp_path: Path) -> None:
    first = Outbox()
    assert first.use_directory(tmp_path / "outbox") == 0
    first.put(_complete("t1"))
    first.put(TaskFail(task_id="t2", attempt=3, error_code="x", error_message="boom"))

    again = Outbox()  # the agent restarted
    assert again.use_directory(tmp_path / "outbox") == 2
    assert sorted(again.keys()) == [("t1", 1), ("t2", 3)]
    [frame] = [f for f in again.frames() if isinstance(f, TaskComplete)]
    assert frame.outputs[0].file_size == 3

    assert again.acknowledged("t1", 1) and not again.acknowledged("t1", 1)
    assert again.keys() == [("t2", 3)]
    assert Outbox().use_directory(tmp_path / "outbox") == 1  # the ack removed the file too


def test_one_outcome_per_attempt_and_forgetting(tmp_path: Path) -> None:
    box = Outbox()
    box.use_directory(tmp_path)
    box.put(_complete("t1", 1))
    box.put(TaskRelease(task_id="t1", attempt=1, reason="stopping"))  # replaces: same attempt
    box.put(_complete("t1", 2))
    assert len(box.frames()) == 2
    box.forget({("t1", 1), ("nope", 9)})
    assert box.keys() == [("t1", 2)]
    assert [p.name for p in tmp_path.iterdir()] == ["t1-2.json"]


def test_without_a_directory_it_keeps_outcomes_in_memory() -> None:
    box = Outbox()
    box.put(_complete("t1"))
    assert box.keys() == [("t1", 1)]


def test_a_corrupt_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "bad-1.json").write_text("{not json")
    box = Outbox()
    assert box.use_directory(tmp_path) == 0
