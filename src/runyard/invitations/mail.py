"""Emailing invitations when ``RUNYARD_SMTP_HOST`` is set (standard library ``smtplib``).

Sending runs after the invitation's commit, in a thread, in the background: the request never
waits for the mail server, and a failed send is logged (the admin still has the link)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from runyard.settings import SmtpSettings

log = logging.getLogger("runyard.mail")


class Mailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.host.strip())

    def send_later(self, to: str, subject: str, body: str) -> None:
        """Start sending in the background (call after the commit)."""
        task = asyncio.get_running_loop().create_task(self._send(to, subject, body))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def drain(self) -> None:
        """Wait for the sends under way (shutdown, tests)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def _send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            await asyncio.to_thread(self._deliver, message)
            log.info("invitation emailed to %s", to)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("could not email %s: %s", to, exc)

    def _deliver(self, message: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(message)


def invitation_email(team_name: str, inviter: str, role: str, url: str, days: int) -> str:
    return (
        f"{inviter} invited you to join the team '{team_name}' on Runyard as {role}.\n\n"
        f"Open this link to accept (sign in, or create your account):\n{url}\n\n"
        f"The link works once and expires in {days} days. If you did not expect this "
        "invitation, ignore this email.\n"
    )
