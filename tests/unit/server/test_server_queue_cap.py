"""The queue cap at constant cost: counted when unknown, stale or near the cap; otherwise
admitted from what this process counted and admitted since."""

from __future__ import annotations

from runyard.tasks.quota import QueueCap


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_counts_first_then_only_near_the_cap_or_when_stale() -> None:
    clock = Ticks()
    cap = QueueCap(100, recount_after=5.0, monotonic=clock)
    assert cap.must_count("t")  # never counted
    cap.counted("t", 10)
    assert not cap.must_count("t")
    for _ in range(79):  # 10 + 79 = 89 < 100 - margin (10)
        cap.admitted("t")
    assert not cap.must_count("t")
    cap.admitted("t")  # 90: within the margin of the cap
    assert cap.must_count("t")
    cap.counted("t", 20)  # tasks finished meanwhile
    assert not cap.must_count("t")
    clock.now = 5.0
    assert cap.must_count("t")  # stale: another process may have admitted some


def test_teams_are_apart_and_a_small_cap_is_exact() -> None:
    clock = Ticks()
    cap = QueueCap(3, monotonic=clock)
    cap.counted("a", 0)
    assert cap.must_count("b")
    for _ in range(3):
        assert not cap.must_count("a")
        cap.admitted("a")
    assert cap.must_count("a")  # 3 admitted: the next must be counted (and refused)
