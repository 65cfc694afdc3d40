"""The agent's connection to the server: dial out, say hello, heartbeat, reconnect, drain.

``Agent`` owns one WebSocket at a time and walks an explicit state machine::

    disconnected -> connecting -> hello_sent -> ready -> draining -> closed
          ^             |              |           |         |
          +-------------+--------------+-----------+---------+   connection lost: back off, redial

A lost connection or a retryable close code (``runyard_protocol.closing``) means "back off with
jitter and dial again"; the next hello lists the tasks still running here, and task outcomes that
could not be sent wait in an outbox for the next connection. A terminal close code (bad key,
agent_id taken, protocol mismatch) or HTTP 401/403 at the handshake raises ``AgentRejectedError``:
a human must act, so the agent stops instead of hammering the server.

``stop()`` drains: heartbeats say ``draining``, new assignments are released, running tasks get
``drain_timeout`` seconds to finish, the rest are released, and the socket closes with 1000.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path

import httpx
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from runyard_agent.executor import Executor, TaskLog
from runyard_agent.link import Link
from runyard_agent.options import (
    AgentOptions,
    AgentRejectedError,
    Backoff,
    agent_version,
    check_close,
)
from runyard_agent.runtimes import build_library, build_runtimes, collect_health, reload_hook
from runyard_agent.runtimes.base import Runtime
from runyard_agent.states import TRANSITIONS, ConnectionState
from runyard_protocol import (
    AgentHello,
    ErrorFrame,
    Heartbeat,
    HeartbeatAck,
    InputUrlGrant,
    LibrarySync,
    OutcomeAck,
    OutputUrlGrant,
    RunningTask,
    ServerWelcome,
    TaskAssign,
    TaskCancel,
    TunnelClose,
    TunnelCredit,
    TunnelEof,
    TunnelOpen,
    dump_frame,
    parse_server_frame,
)

__all__ = ["Agent", "ConnectionState"]

_log = logging.getLogger(__name__)
ACK_WAIT_ON_STOP = 5.0  # seconds a stopping agent waits for outcome acknowledgements


class _ProtocolViolation(Exception):
    """The server broke the handshake (no welcome); retried like a network error."""


class Agent:
    """One agent process: ``await Agent(options).run()``; ``stop()`` drains it."""

    def __init__(
        self,
        options: AgentOptions,
        *,
        runtimes: Mapping[str, Runtime] | None = None,
        http_client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.log = TaskLog(_log, {"agent_id": options.agent_id})
        self._given_runtimes = runtimes
        self._given_http = http_client
        self._backoff = Backoff(options.backoff_initial, options.backoff_max, rng)
        self._state = ConnectionState.DISCONNECTED
        self._stopped = asyncio.Event()
        self._force = asyncio.Event()
        self._heartbeat_wake = asyncio.Event()
        self._heartbeat_interval = 10.0
        self.link = Link(self.log, options.request_timeout, options.allowed_tunnel_ports())
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._executor: Executor | None = None
        self.library = build_library(options, self._heartbeat_wake.set)  # --comfyui-dir
        # websockets logs handshake headers (our key) at DEBUG: give it a logger that never does.
        self._ws_logger = logging.getLogger("runyard_agent.websocket")
        self._ws_logger.setLevel(logging.INFO)

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def executor(self) -> Executor | None:
        return self._executor

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until connected and welcomed (raises ``TimeoutError``)."""
        await asyncio.wait_for(self.link.wait_connected(), timeout)

    def stop(self, *, force: bool = False) -> None:
        """Drain and leave; a second call (or ``force``) stops waiting for running tasks."""
        if force or self._drain_task is not None:
            self._force.set()
        if self._drain_task is None:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def run(self) -> None:
        """Serve until ``stop()`` completes; raises ``AgentRejectedError`` when refused for good."""
        options = self.options
        temp_dir = None if options.work_dir else Path(tempfile.mkdtemp(prefix="runyard-agent-"))
        work_dir = options.work_dir or temp_dir
        assert work_dir is not None
        work_dir.mkdir(parents=True, exist_ok=True)
        if kept := self.link.outbox.use_directory(work_dir / "outbox"):
            self.log.info("%d unacknowledged task outcome(s) kept from the last run", kept)
        runtimes = dict(self._given_runtimes or build_runtimes(options))
        if self.library is not None:  # node packages changed: restart the supervised ComfyUI
            self.library.reload = reload_hook(runtimes)
        http = self._given_http or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self._executor = Executor(
            link=self.link,
            runtimes=runtimes,
            http=http,
            work_dir=work_dir,
            capacity=options.capacity,
            agent_id=options.agent_id,
            cancel_grace=options.cancel_grace,
            progress_interval=options.progress_interval,
            preview_interval=options.comfyui_preview_interval,
        )
        self.log.info(
            "starting: server %s, labels %s, capacity %d, runtimes %s, work dir %s",
            options.server_url,
            ",".join(options.labels),
            options.capacity,
            ",".join(runtimes),
            work_dir,
        )
        try:
            await self._connect_loop(runtimes)
        finally:
            self._disconnected()
            await self._executor.shutdown()
            if undelivered := self.link.outbox_tasks():
                self.log.warning(
                    "%d task outcome(s) not acknowledged yet%s",
                    len(undelivered),
                    "" if temp_dir else f"; kept in {work_dir / 'outbox'} for the next start",
                )
            else:
                with suppress(OSError):
                    (work_dir / "outbox").rmdir()
            if self.library is not None:
                await self.library.close()
            if self._given_runtimes is None:
                for runtime in runtimes.values():
                    await runtime.close()
            if self._given_http is None:
                await http.aclose()
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            self._set_state(ConnectionState.CLOSED)
            self.log.info("stopped")

    # ------------------------------------------------------------------ connection

    async def _connect_loop(self, runtimes: Mapping[str, Runtime]) -> None:
        while not self._stopped.is_set():
            self._set_state(ConnectionState.CONNECTING)
            self._session_task = asyncio.create_task(self._session(runtimes))
            try:
                await self._session_task
            except AgentRejectedError as exc:
                self.log.error("stopping: %s", exc)
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    message = (
                        f"the server refused the agent key (HTTP {status}): check "
                        "--key / RUNYARD_AGENT_KEY"
                    )
                    self.log.error("stopping: %s", message)
                    raise AgentRejectedError(message, status_code=status) from None
                self.log.warning("the server answered HTTP %d to the WebSocket handshake", status)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
            except (OSError, TimeoutError, InvalidHandshake, _ProtocolViolation) as exc:
                self.log.warning("cannot reach %s: %s", self.options.ws_url(), exc or repr(exc))
            except Exception:
                self.log.exception("connection failed unexpectedly")
            finally:
                self._disconnected()
            if self._stopped.is_set():
                break
            delay = self._backoff.next_delay()
            self.log.info("reconnecting in %.1fs", delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)

    async def _session(self, runtimes: Mapping[str, Runtime]) -> None:
        headers = {"Authorization": f"Bearer {self.options.agent_key}"}
        async with connect(
            self.options.ws_url(),
            additional_headers=headers,
            logger=self._ws_logger,
            open_timeout=self.options.open_timeout,
            max_size=16 * 1024 * 1024,
            # Tunnel data is mostly compressed already (images, video); deflating every 64 KiB
            # chunk cost more CPU than the link it saved. Frames are small JSON.
            compression=None,
            user_agent_header=f"runyard-agent/{agent_version()}",
        ) as ws:
            try:
                await self._handshake(ws, runtimes)
                heartbeats = asyncio.create_task(self._heartbeats(ws, runtimes))
                try:
                    async for raw in ws:
                        await self._dispatch(raw)
                finally:
                    heartbeats.cancel()
            except ConnectionClosed:
                pass
            finally:
                self._disconnected()
            if not self._stopped.is_set():
                check_close(ws.protocol.close_rcvd, self.log)

    async def _handshake(self, ws: ClientConnection, runtimes: Mapping[str, Runtime]) -> None:
        health = await collect_health(runtimes, self.options.health_timeout, self.library)
        hello = AgentHello(
            agent_id=self.options.agent_id,
            labels=self.options.labels,
            capacity=self.options.capacity,
            agent_version=agent_version(),
            runtimes=health.runtimes,
            system_info=health.system_info,
            healthy=health.healthy,
            running_tasks=self._running_tasks(),
            tunnel_ports=sorted(self.link.tunnels.ports),
            tunnel_half_close=True,
        )
        self._set_state(ConnectionState.HELLO_SENT)
        await ws.send(dump_frame(hello))
        async with asyncio.timeout(self.options.welcome_timeout):
            raw = await ws.recv()
        try:
            welcome = parse_server_frame(raw)
        except ValidationError as exc:
            raise _ProtocolViolation(f"malformed answer to hello: {exc}") from None
        if not isinstance(welcome, ServerWelcome):
            raise _ProtocolViolation(f"expected server.welcome.v1, got {welcome.type}")
        self._heartbeat_interval = max(0.05, welcome.heartbeat_interval)
        self.link.inline_output_max = welcome.inline_output_max
        self.link.tunnels.half_close = welcome.tunnel_half_close
        self._abandon(welcome.drop_tasks)
        self._set_state(ConnectionState.DRAINING if self._draining else ConnectionState.READY)
        self._backoff.reset()
        self.log.info(
            "connected (heartbeat every %gs, %d task(s) running)",
            self._heartbeat_interval,
            len(hello.running_tasks),
        )
        await self.link.attach(ws)

    def _disconnected(self) -> None:
        self.link.detach()
        if self._state not in (ConnectionState.DISCONNECTED, ConnectionState.CLOSED):
            self._set_state(ConnectionState.DISCONNECTED)

    def _set_state(self, new: ConnectionState) -> None:
        if new == self._state:
            return
        if new not in TRANSITIONS[self._state]:
            raise RuntimeError(f"connection state {self._state} cannot become {new}")
        self.log.debug("state %s -> %s", self._state, new)
        self._state = new

    async def _heartbeats(self, ws: ClientConnection, runtimes: Mapping[str, Runtime]) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._heartbeat_wake.wait(), self._heartbeat_interval)
            self._heartbeat_wake.clear()
            timeout = min(self.options.health_timeout, self._heartbeat_interval / 2)
            health = await collect_health(runtimes, timeout, self.library)
            frame = Heartbeat(
                running_tasks=self._running_tasks(),
                healthy=health.healthy,
                system_info=health.system_info,
                draining=self._draining,
            )
            try:
                await self.link.send_text(ws, dump_frame(frame))
            except ConnectionClosed:
                return

    # ------------------------------------------------------------------ frames

    async def _dispatch(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):  # only tunnel data travels in binary messages
            self.link.tunnels.feed_data(raw)
            return
        try:
            frame = parse_server_frame(raw)
        except ValidationError as exc:
            self.log.warning(
                "ignoring a malformed frame from the server: %s",
                exc.errors()[0]["msg"] if exc.errors() else exc,
            )
            return
        assert self._executor is not None
        if isinstance(frame, TunnelOpen | TunnelCredit | TunnelClose | TunnelEof):
            self.link.tunnels.handle(frame)
        elif isinstance(frame, TaskAssign):
            await self._executor.assign(frame)
        elif isinstance(frame, TaskCancel):
            self._executor.cancel(frame)
        elif isinstance(frame, HeartbeatAck):
            self._abandon(frame.drop_tasks)
        elif isinstance(frame, OutcomeAck):
            self.link.acknowledged(frame)
        elif isinstance(frame, OutputUrlGrant | InputUrlGrant):
            self.link.resolve(frame)
        elif isinstance(frame, LibrarySync) and self.library is not None:
            self.library.apply(frame)
        elif isinstance(frame, ErrorFrame):
            self.link.refused(frame)

    def _abandon(self, tasks: Iterable[RunningTask]) -> None:
        dropped = {(item.task_id, item.attempt) for item in tasks}
        if not dropped:
            return
        assert self._executor is not None
        self._executor.drop(tasks)
        self.link.forget_tasks(dropped)

    def _running_tasks(self) -> list[RunningTask]:
        return self.link.with_outbox(self._executor.running_tasks() if self._executor else [])

    # ------------------------------------------------------------------ shutdown

    async def _drain(self) -> None:
        executor = self._executor
        self._draining = True
        if executor is not None:
            executor.start_draining()
            if self._state == ConnectionState.READY:
                self._set_state(ConnectionState.DRAINING)
            self._heartbeat_wake.set()
            running = len(executor.running_tasks())
            if running:
                self.log.info(
                    "draining: waiting up to %gs for %d running task(s)",
                    self.options.drain_timeout,
                    running,
                )
            waits = {
                asyncio.create_task(executor.wait_idle(self.options.drain_timeout)),
                asyncio.create_task(self._force.wait()),
            }
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
            await executor.release_all("the agent is shutting down")
            # Outcomes are kept until acknowledged: give the answers a moment before closing.
            await self.link.wait_acknowledged(ACK_WAIT_ON_STOP)
        self._stopped.set()
        ws = self.link.socket
        if ws is not None:
            await ws.close(1000, "agent shutting down")
        elif self._session_task is not None and not self._session_task.done():
            self._session_task.cancel()
