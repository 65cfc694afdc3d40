"""An in-process Runyard app over a real database and a real embedded store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runyard.app import create_app
from runyard.bootstrap import Provisioned, provision
from runyard.clock import OffsetClock
from runyard.settings import DatabaseSettings, Settings
from runyard.storage.base import Storage
from tests.support.guard import forbid_io_in_transactions

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    settings = Settings(
        environment="test",
        secret_key=SECRET,
        data_dir=data_dir,
        public_url="http://testserver",
        **overrides,
    )
    settings.db = DatabaseSettings(url=db_url)
    return settings


@dataclass
class Team:
    p: Provisioned
    session_token: str

    @property
    def id(self) -> str:
        return self.p.team_id

    def auth(self, kind: str = "session") -> dict[str, str]:
        token = {
            "session": self.session_token,
            "integration": self.p.integration_key,
            "device": self.p.device_key,
            "agent": self.p.agent_key,
        }[kind]
        return {"Authorization": f"Bearer {token}"}


@dataclass
class Harness:
    app: Any
    client: httpx.AsyncClient
    settings: Settings
    clock: OffsetClock

    async def team(self, name: str, email: str) -> Team:
        p = await provision(
            self.app.state.services.db,
            self.settings,
            email=email,
            team_name=name,
            password="password-" + name,
        )
        r = await self.client.post(
            "/api/v1/auth/login", json={"email_address": email, "user_password": "password-" + name}
        )
        assert r.status_code == 200, r.text
        return Team(p, r.json()["access_token"])

    async def upload(
        self,
        team: Team,
        data: bytes,
        name: str = "photo.png",
        content_type: str = "image/png",
        kind: str = "integration",
    ) -> str:
        r = await self.client.post(
            "/api/v1/r/files/presign",
            headers=team.auth(kind),
            json={"file_name": name, "file_size": len(data), "content_type": content_type},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        put = await self.client.put(
            body["upload_url"], content=data, headers=body["upload_headers"]
        )
        assert put.status_code == 200, put.text
        return str(body["file_key"])


@asynccontextmanager
async def running_app(
    settings: Settings, *, background: bool = False, storage: Storage | None = None
) -> AsyncIterator[Harness]:
    """The app over ``settings``; ``storage`` replaces the store the settings would build."""
    clock = OffsetClock()
    app = create_app(settings, clock=clock, background=background, storage=storage)
    forbid_io_in_transactions(app.state.services.storage)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app, client, settings, clock)
