"""Invitations are emailed when SMTP is set up: against a real SMTP server (aiosmtpd) started
here, with SMTP authentication."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from runyard.settings import SmtpSettings
from tests.support.app import make_settings, running_app
from tests.support.s3 import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"runyard",
            b"smtp-secret",
        )
        if ok:
            inbox.logins.append(data.login.decode())
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield port, inbox
    controller.stop()


async def test_an_invitation_is_emailed_with_its_link(
    db_url: str, tmp_path: Path, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    mail = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        username="runyard",
        password="smtp-secret",
        sender="Runyard <runyard@example.com>",
    )
    async with running_app(make_settings(db_url, tmp_path / "data", smtp=mail)) as h:
        team = await h.team("alpha", "alice@example.com")
        r = await h.client.post(
            f"/api/v1/teams/{team.id}/invitations",
            headers=team.auth(),
            json={"email_address": "carol@example.com", "role": "viewer"},
        )
        assert r.status_code == 201 and r.json()["emailed"] is True
        await h.app.state.services.mailer.drain()
    assert inbox.logins == ["runyard"]
    [message] = inbox.messages
    assert message["To"] == "carol@example.com"
    assert message["From"] == "Runyard <runyard@example.com>"
    assert "alpha" in message["Subject"]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert r.json()["accept_url"] in body and "viewer" in body


async def test_a_mail_server_that_refuses_does_not_fail_the_invitation(
    db_url: str, tmp_path: Path
) -> None:
    mail = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2)
    async with running_app(make_settings(db_url, tmp_path / "data", smtp=mail)) as h:
        team = await h.team("alpha", "alice@example.com")
        r = await h.client.post(
            f"/api/v1/teams/{team.id}/invitations",
            headers=team.auth(),
            json={"email_address": "carol@example.com"},
        )
        assert r.status_code == 201
        await h.app.state.services.mailer.drain()
        listed = await h.client.get(f"/api/v1/teams/{team.id}/invitations", headers=team.auth())
        assert len(listed.json()["invitations"]) == 1
