"""The services container: every process-wide object of a server, built once by ``create_app``
from the settings and passed down. Routes reach it through the dependency aliases of
``runyard.deps``; the gateway and background loops get what they need at construction.

Nothing here reads the environment or runs at import. ``start()`` launches the background loops
(dispatcher, reaper, retention sweeper, webhook delivery); ``stop()`` closes agent connections,
stops the loops and releases the store and the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.db.notify import Listener
from runyard.events.feed import EventFeed
from runyard.events.hub import EventHub
from runyard.files.quota import DailyUsage
from runyard.gateway.library import LibraryPusher
from runyard.gateway.liveness import LivenessWriter
from runyard.gateway.registry import Gateway
from runyard.invitations.mail import Mailer
from runyard.ratelimit import RateLimiter, build_rate_limiter
from runyard.retention.sweeper import Sweeper
from runyard.scheduler import Dispatcher, Reaper
from runyard.scheduler.direct import DirectPass
from runyard.settings import Settings
from runyard.storage import build_storage
from runyard.storage.base import Storage
from runyard.tasks.pg_transitions import PostgresTransitions
from runyard.tasks.transitions import TaskTransitions
from runyard.tunnels.relay import TunnelRelays
from runyard.webhooks.delivery import WebhookWorker
from runyard_protocol import CloseReason

log = logging.getLogger("runyard.app")


class TaskWakeups:
    """Committed task changes wake the event streams following them, and the dispatcher when
    work became schedulable or capacity was freed (``UnitOfWork`` calls this after commit)."""

    def __init__(self, events: EventHub) -> None:
        self.events = events
        self.feed: EventFeed | None = None
        self.dispatcher: Dispatcher | None = None
        self.webhooks: WebhookWorker | None = None
        self.listener: Listener | None = None

    def tasks_changed(self, task_ids: set[str], wake_dispatcher: bool) -> None:
        self._wake_here(task_ids, wake_dispatcher)
        if self.listener is not None:  # PostgreSQL: the other server processes hear of it too
            self.listener.announce(task_ids, wake_dispatcher)

    def wake_others(self) -> None:
        """Only the other server processes' dispatchers (tasks this one left for them)."""
        if self.listener is not None:
            self.listener.announce(set(), True)

    def _wake_here(self, task_ids: set[str], wake_dispatcher: bool) -> None:
        if task_ids:
            self.events.publish(task_ids)
            if self.feed is not None:
                self.feed.changed(task_ids)
        if wake_dispatcher and self.dispatcher is not None:
            self.dispatcher.wake()

    def webhooks_due(self) -> None:
        """Deliveries were queued by a commit of this process: attempt them now."""
        if self.webhooks is not None:
            self.webhooks.wake()

    def notified(self, task_ids: set[str] | None, wake_dispatcher: bool) -> None:
        """A change committed by any server process (PostgreSQL LISTEN/NOTIFY)."""
        if task_ids is None:
            self.events.publish_all()
            if self.feed is not None:
                self.feed.changed(None)
            task_ids = set()
        self._wake_here(task_ids, wake_dispatcher)


def choose_transitions(db: Database, settings: Settings) -> TaskTransitions:
    """The one place the database decides how transitions are written: one statement per
    transition on PostgreSQL (each deciding its own fallback), the ORM otherwise."""
    return PostgresTransitions(db, settings) if db.is_postgres else TaskTransitions(db, settings)


def fast_pass(db: Database) -> type[DirectPass] | None:
    """Dispatcher passes that only assign go through the driver on PostgreSQL."""
    return DirectPass if db.is_postgres else None


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    storage: Storage
    gateway: Gateway
    events: EventHub
    feed: EventFeed
    dispatcher: Dispatcher
    reaper: Reaper
    liveness: LivenessWriter
    sweeper: Sweeper
    webhooks: WebhookWorker
    usage: DailyUsage
    rate_limiter: RateLimiter
    transitions: TaskTransitions
    mailer: Mailer
    library: LibraryPusher
    tunnels: TunnelRelays
    listener: Listener | None = None
    ready: bool = False
    running: list[BackgroundLoop] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, clock: Clock, storage: Storage | None = None) -> Services:
        events = EventHub()
        wakeups = TaskWakeups(events)
        db = Database(settings.db, wakeups)
        feed = EventFeed(db, settings, clock)
        wakeups.feed = feed
        store = storage if storage is not None else build_storage(settings)
        gateway = Gateway()
        transitions = choose_transitions(db, settings)
        dispatcher = Dispatcher(db, settings, store, clock, gateway, fast_pass=fast_pass(db))
        wakeups.dispatcher = dispatcher
        webhooks = WebhookWorker(db, settings.webhook, clock)
        wakeups.webhooks = webhooks
        library = LibraryPusher(db, store, gateway)
        if db.is_postgres:
            listener = wakeups.listener = Listener(
                settings.db.url, wakeups.notified, library.notified
            )
            library.listener = listener
            feed.fed = listener.connected.is_set
            dispatcher.hand_off = wakeups.wake_others
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            storage=store,
            gateway=gateway,
            events=events,
            feed=feed,
            dispatcher=dispatcher,
            reaper=Reaper(db, settings, clock, gateway),
            liveness=LivenessWriter(db, settings, clock, gateway),
            sweeper=Sweeper(db, settings, store, clock),
            webhooks=webhooks,
            usage=DailyUsage(),
            rate_limiter=build_rate_limiter(settings, db),
            transitions=transitions,
            mailer=Mailer(settings.smtp),
            library=library,
            tunnels=TunnelRelays(db, settings, clock, gateway, dispatcher.wake),
            listener=wakeups.listener,
        )

    async def start(self, *, background: bool) -> None:
        if background:
            self.running = [
                self.dispatcher,
                self.reaper,
                self.liveness,
                self.sweeper,
                self.webhooks,
                self.tunnels,
            ]
            for loop in self.running:
                loop.start()
            if self.listener is not None:
                self.listener.start()
        self.ready = True
        log.info(
            "runyard ready: storage=%s db=%s", self.storage.backend, self.db.engine.dialect.name
        )

    async def begin_shutdown(self) -> None:
        """The process is about to stop (SIGTERM): open event streams end now with a frame
        telling their clients to reconnect, and agents are closed with 4000 so they reconnect
        elsewhere (resending unacknowledged outcomes). ``runyard serve`` calls this as soon as
        the signal is handled, because the HTTP server waits for open responses before the
        lifespan ends."""
        self.ready = False
        self.events.close()
        self.feed.close()
        await self.gateway.close_all(CloseReason.SERVER_SHUTDOWN)

    async def stop(self) -> None:
        await self.begin_shutdown()
        await self.feed.stop()
        await self.library.stop()
        if self.listener is not None:
            await self.listener.stop()
        for loop in self.running:
            await loop.stop()
        if self.webhooks not in self.running:
            await self.webhooks.sender.close()
        self.running = []
        await self.mailer.drain()
        await self.storage.close()
        await self.db.dispose()
