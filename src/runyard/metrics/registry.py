"""The metrics of one server process, in their own ``CollectorRegistry`` (never the global one,
so two apps in one process, as in tests, do not collide).

Fed three ways:
- as the database's ``TransitionObserver`` (``db/observer.py``), which both implementations of
  ``tasks.transitions`` call: submit → assign and assign → start histograms, inline outputs;
- ``MetricsMiddleware`` (``endpoints.py``): HTTP latency by route template, presigns and uploads
  by result;
- ``refresh`` just before each scrape: tasks by state, the oldest schedulable task's wait (from
  the database), connected agents and free slots (this process's gateway), event-stream clients.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runyard.states import ACTIVE, TERMINAL
from runyard.tasks.repository import TaskQueue

if TYPE_CHECKING:
    from runyard.db.engine import Database
    from runyard.events.feed import EventFeed
    from runyard.gateway.registry import Gateway
    from runyard.tunnels.relay import TunnelRelays

# Dispatch happens in milliseconds when an agent is free, and in minutes when none is.
QUEUE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                 300, 900, 3600)  # fmt: skip
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


def _seconds(later: datetime, earlier: datetime | None) -> float | None:
    if earlier is None:
        return None
    if (later.tzinfo is None) != (earlier.tzinfo is None):  # SQLite hands back naive UTC
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return max(0.0, (later - earlier).total_seconds())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.submit_to_assign = Histogram(
            "runyard_task_submit_to_assign_seconds",
            "From a task's submission to its assignment to an agent (each attempt).",
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.assign_to_start = Histogram(
            "runyard_task_assign_to_start_seconds",
            "From an assignment to the agent's acknowledgement (task running).",
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.tasks = Gauge(
            "runyard_tasks", "Tasks in the database by state (all teams).", ["state"], registry=r
        )
        self.queue_wait = Gauge(
            "runyard_queue_oldest_wait_seconds",
            "Age of the oldest task waiting for an agent (pending or waiting); 0 when none.",
            registry=r,
        )
        self.agents = Gauge(
            "runyard_agents_connected", "Agents connected to this server process.", registry=r
        )
        self.free_slots = Gauge(
            "runyard_agent_slots_free",
            "Free task slots of the ready agents connected to this process (capacity - held).",
            registry=r,
        )
        self.event_streams = Gauge(
            "runyard_event_stream_clients",
            "Clients following a task's event stream on this process.",
            registry=r,
        )
        self.tunnel_bytes = Counter(
            "runyard_tunnel_bytes",
            "Bytes relayed through tunnels by this server process, by direction "
            "(to_agent: from users to the agent's port; from_agent: back).",
            ["direction"],
            registry=r,
        )
        self.tunnel_sessions = Gauge(
            "runyard_tunnel_sessions",
            "Tunnel sessions (HTTP requests, WebSockets, TCP connections) this process relays now.",
            registry=r,
        )
        self._tunnel_seen = {"to_agent": 0, "from_agent": 0}
        self.presigns = Counter(
            "runyard_presigns",
            "POST /api/v1/r/files/presign answers by result (ok, or the HTTP status).",
            ["result"],
            registry=r,
        )
        self.uploads = Counter(
            "runyard_uploads",
            "Objects received by the embedded store by result: signed PUTs (objects and parts) "
            "and outputs agents sent inline in their completion.",
            ["result"],
            registry=r,
        )
        self.http = Histogram(
            "runyard_http_request_duration_seconds",
            "HTTP request latency by method, route template and status class.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        # Series that exist from the start, so rate() has a zero to start from.
        self.presigns.labels("ok")
        self.uploads.labels("ok")

    def task_queued(self, created_at: datetime | None, now: datetime) -> None:
        waited = _seconds(now, created_at)
        if waited is not None:
            self.submit_to_assign.observe(waited)

    def task_started(self, assigned_at: datetime | None, now: datetime) -> None:
        took = _seconds(now, assigned_at)
        if took is not None:
            self.assign_to_start.observe(took)

    def inline_outputs(self, result: str, count: int) -> None:
        if count:
            self.uploads.labels(result).inc(count)

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.labels(method, route, f"{status // 100}xx").observe(seconds)
        result = "ok" if status < 400 else str(status)
        if route == "/api/v1/r/files/presign":
            self.presigns.labels(result).inc()
        elif route == "/storage/{key}" and method == "PUT":
            self.uploads.labels(result).inc()

    async def refresh(
        self,
        db: Database,
        gateway: Gateway | None,
        feed: EventFeed | None,
        now: datetime,
        tunnels: TunnelRelays | None = None,
    ) -> None:
        async with db.session() as session:
            repo = TaskQueue(session)
            by_state = await repo.counts_by_status()
            oldest = await repo.oldest_schedulable()
            held = await repo.held_by_agent() if gateway is not None else {}
        for state in sorted(ACTIVE | TERMINAL):
            self.tasks.labels(state).set(by_state.get(state, 0))
        self.queue_wait.set(_seconds(now, oldest) or 0.0)
        if gateway is not None:
            conns = gateway.all_connections()
            self.agents.set(len(conns))
            self.free_slots.set(
                sum(
                    max(0, c.capacity - held.get((c.team_id, c.agent_id), 0))
                    for c in conns
                    if c.healthy and not c.draining
                )
            )
        if feed is not None:
            self.event_streams.set(feed.subscriber_count())
        if tunnels is not None:
            self.tunnel_sessions.set(tunnels.active())
            totals = {"to_agent": tunnels.bytes_to_agents, "from_agent": tunnels.bytes_from_agents}
            for direction, total in totals.items():
                self.tunnel_bytes.labels(direction).inc(
                    max(0, total - self._tunnel_seen[direction])
                )
                self._tunnel_seen[direction] = max(total, self._tunnel_seen[direction])
