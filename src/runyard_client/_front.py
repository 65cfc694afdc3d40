"""What ``Client`` and ``AsyncClient`` share: one constructor (its arguments, the resolved
settings, the resources over an executor) and the properties read from it. Each subclass only
says how it talks HTTP (``_connect``: a sync or an async executor) and adds its own verbs."""

from __future__ import annotations

from typing import Generic, TypeVar

import httpx

from runyard_client._auth import Auth
from runyard_client._base import (
    DEFAULT_TIMEOUT,
    SINGLE_UPLOAD_LIMIT,
    UPLOAD_TIMEOUT,
    ClientCore,
    make_core,
    user_agent,
)
from runyard_client._library import Models
from runyard_client._node_packages import NodePackages
from runyard_client._resources import Agents, Credentials, Files, Tasks, Workflows
from runyard_client._teams import Account, Teams
from runyard_client._transport import AsyncExecutor, SyncExecutor
from runyard_client._tunnels import Tunnels
from runyard_client._webhooks import Webhooks

X = TypeVar("X", SyncExecutor, AsyncExecutor)
Transport = TypeVar("Transport", httpx.BaseTransport, httpx.AsyncBaseTransport)


class Front(Generic[X, Transport]):
    """The server URL and key come from the arguments, else ``RUNYARD_URL``/``RUNYARD_API_KEY``,
    else the profile written by ``runyard login``. ``team_id`` is sent as ``X-Team-ID`` (only
    session tokens use it). Timeouts are finite: 30 s by default, longer for uploads. A request
    is tried again up to ``max_retries`` times when that is safe (a refused connection, a 429;
    a dropped one or a 5xx only for idempotent calls); uploads above ``single_upload_limit`` go
    in parts, ``part_concurrency`` at a time."""

    def __init__(
        self,
        server_url: str | None = None,
        api_key: str | None = None,
        *,
        team_id: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        upload_timeout: float | httpx.Timeout = UPLOAD_TIMEOUT,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        single_upload_limit: int = SINGLE_UPLOAD_LIMIT,
        part_concurrency: int = 4,
        transport: Transport | None = None,
        use_profile: bool = True,
    ) -> None:
        core = make_core(
            server_url,
            api_key,
            team_id,
            timeout=timeout,
            upload_timeout=upload_timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            single_upload_limit=single_upload_limit,
            part_concurrency=part_concurrency,
            use_profile=use_profile,
        )
        self._executor: X = self._connect(core, transport, {"User-Agent": user_agent()})
        self.workflows: Workflows[X] = Workflows(self._executor)
        self.tasks: Tasks[X] = Tasks(self._executor)
        self.agents: Agents[X] = Agents(self._executor)
        self.credentials: Credentials[X] = Credentials(self._executor)
        self.webhooks: Webhooks[X] = Webhooks(self._executor)
        self.auth: Auth[X] = Auth(self._executor)
        self.teams: Teams[X] = Teams(self._executor)
        self.account: Account[X] = Account(self._executor)
        self.files: Files[X] = Files(self._executor)
        self.models: Models[X] = Models(self._executor)
        self.node_packages: NodePackages[X] = NodePackages(self._executor)
        self.tunnels: Tunnels[X] = Tunnels(self._executor)

    def _connect(self, core: ClientCore, transport: Transport | None, headers: dict[str, str]) -> X:
        raise NotImplementedError

    @property
    def server_url(self) -> str:
        return self._executor.core.base_url

    @property
    def api_key(self) -> str | None:
        return self._executor.core.api_key

    @property
    def team_id(self) -> str | None:
        """The team sent as ``X-Team-ID`` (the argument, else the saved profile's)."""
        return self._executor.core.team_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.server_url}>"
