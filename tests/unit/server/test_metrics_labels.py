"""The HTTP metrics label requests by route template, never by the ids in their paths."""

from __future__ import annotations

from typing import Any

from runyard.metrics.endpoints import route_template
from runyard.metrics.registry import Metrics


def scope(path: str, params: dict[str, Any] | None, matched: bool = True) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "http", "path": path, "path_params": params or {}}
    if matched:
        s["route"] = object()
    return s


def test_path_parameters_become_their_names() -> None:
    assert (
        route_template(scope("/api/v1/r/tasks/01ab-cd/events", {"task_id": "01ab-cd"}))
        == "/api/v1/r/tasks/{task_id}/events"
    )
    key = "outputs/team/01ab/1/0-sleep.txt"
    assert route_template(scope(f"/storage/{key}", {"key": key})) == "/storage/{key}"
    assert route_template(scope("/api/v1/r/files/presign", {})) == "/api/v1/r/files/presign"


def test_unmatched_paths_share_one_label() -> None:
    assert route_template(scope("/no/such/thing/123", None, matched=False)) == "unmatched"


def test_presigns_and_uploads_are_counted_by_result() -> None:
    m = Metrics()
    m.request_done("POST", "/api/v1/r/files/presign", 200, 0.002)
    m.request_done("POST", "/api/v1/r/files/presign", 429, 0.001)
    m.request_done("PUT", "/storage/{key}", 412, 0.001)
    get = m.registry.get_sample_value
    assert get("runyard_presigns_total", {"result": "ok"}) == 1
    assert get("runyard_presigns_total", {"result": "429"}) == 1
    assert get("runyard_uploads_total", {"result": "412"}) == 1
    assert get("runyard_uploads_total", {"result": "ok"}) == 0
    labels = {"method": "POST", "route": "/api/v1/r/files/presign", "status": "2xx"}
    assert get("runyard_http_request_duration_seconds_count", labels) == 1


def test_two_apps_have_separate_registries() -> None:
    a, b = Metrics(), Metrics()
    a.request_done("GET", "/healthz", 200, 0.001)
    labels = {"method": "GET", "route": "/healthz", "status": "2xx"}
    name = "runyard_http_request_duration_seconds_count"
    assert a.registry.get_sample_value(name, labels) == 1
    assert b.registry.get_sample_value(name, labels) is None


def test_transitions_feed_the_histograms_naive_or_aware() -> None:
    from datetime import UTC, datetime, timedelta

    m = Metrics()
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    naive_created = (now - timedelta(seconds=2)).replace(tzinfo=None)  # as SQLite returns it
    m.task_queued(naive_created, now)
    m.task_started(now, now + timedelta(milliseconds=5))
    m.task_started(None, now)  # never assigned: not observed
    get = m.registry.get_sample_value
    assert get("runyard_task_submit_to_assign_seconds_sum") == 2.0
    assert get("runyard_task_assign_to_start_seconds_count") == 1
