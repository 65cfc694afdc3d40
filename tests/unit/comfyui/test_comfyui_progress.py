"""The overall progress fraction computed from ComfyUI's events."""

from __future__ import annotations

from runyard_agent.runtimes.comfyui.progress import ProgressTracker

GRAPH = {
    "1": {"class_type": "LoadImage"},
    "2": {"class_type": "ImageInvert"},
    "3": {"class_type": "ImageBlur"},
    "9": {"class_type": "SaveImage"},
}


def test_nodes_finished_over_nodes_in_the_graph() -> None:
    tracker = ProgressTracker(GRAPH)
    first = tracker.executing("1")
    assert (first.progress, first.current_node, first.message) == (0.0, "1", "LoadImage")
    assert tracker.executing("2").progress == 0.25  # the next `executing` finishes node 1
    assert tracker.executing("3").progress == 0.5


def test_cached_nodes_count_as_done() -> None:
    tracker = ProgressTracker(GRAPH)
    assert tracker.cached(["1", "2"]).progress == 0.5
    assert tracker.cached(["1", "2", "3", "9"]).progress == 0.99  # capped until finished()
    assert tracker.finished().progress == 1.0


def test_node_value_over_max_refines_the_fraction() -> None:
    tracker = ProgressTracker(GRAPH)
    tracker.cached(["1", "2"])
    report = tracker.step("3", 5, 20)
    assert report.progress == (2 + 5 / 20) / 4
    assert (report.step_current, report.step_total) == (5, 20)
    assert (report.current_node, report.message) == ("3", "ImageBlur")
    assert tracker.step("3", 20, 20).progress == 0.75


def test_progress_state_finishes_nodes_and_tracks_the_running_one() -> None:
    tracker = ProgressTracker(GRAPH)
    report = tracker.node_states(
        {
            "1": {"value": 1, "max": 1, "state": "finished"},
            "2": {"value": 1, "max": 1, "state": "finished"},
            "3": {"value": 3, "max": 4, "state": "running"},
        }
    )
    assert report.progress == (2 + 3 / 4) / 4
    assert report.current_node == "3"
    assert (report.step_current, report.step_total) == (3, 4)
    # A node that only says value 0 of max 1 shows no step counts.
    assert tracker.node_states({"9": {"value": 0, "max": 1, "state": "running"}}).step_total is None


def test_never_goes_backwards() -> None:
    tracker = ProgressTracker(GRAPH)
    tracker.cached(["1"])
    assert tracker.step("3", 4, 4).progress == 0.5
    # ComfyUI starts another node with value 0: the fraction holds, the node changes.
    report = tracker.executing("2")
    assert report.progress == 0.5
    assert report.current_node == "2"


def test_nodes_outside_the_graph_do_not_count() -> None:
    tracker = ProgressTracker(GRAPH)
    tracker.cached(["1", "77", "12:4"])
    report = tracker.executing("12:5")  # an expanded subgraph node
    assert report.progress == 0.25
    assert report.current_node == "12:5"
    assert report.message is None


def test_empty_graph_does_not_divide_by_zero() -> None:
    assert ProgressTracker({}).executing("1").progress == 0.0
