"""``runyard login --device``: pair this machine through the dashboard (RFC 8628-like).

The CLI starts a pairing, shows the page and the short code to confirm there, and polls every
``interval`` seconds (five more after each ``slow_down``, as RFC 8628 says) until a signed-in
user confirms or denies it, or it expires. No password is typed on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.markup import escape

from runyard_client._client import Client
from runyard_client._errors import BadRequestError
from runyard_client._models import PairingPolled
from runyard_client.cli._common import err, fail, out

SLOW_DOWN_STEP = 5


@dataclass(frozen=True)
class Paired:
    device_key: str
    agent_key: str | None
    team_id: str | None


def pair_device(
    client: Client,
    device_name: str,
    with_agent_key: bool,
    *,
    quiet: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Paired:
    started = client.auth.start_pairing(device_name, with_agent_key)
    show = err if quiet else out  # with --json, stdout is only the final JSON
    show.print("To pair this device, open")
    show.print(f"  [bold]{escape(started.verification_uri_complete)}[/bold]")
    show.print(
        f"and confirm the code [bold cyan]{escape(started.user_code)}[/bold cyan] "
        f"(it expires in {started.expires_in // 60 or 1} min)."
    )
    show.file.flush()
    interval = float(started.interval)
    deadline = time.monotonic() + started.expires_in
    with show.status("Waiting for the confirmation…", spinner="dots"):
        while True:
            sleep(interval)
            try:
                polled: PairingPolled = client.auth.poll_pairing(started.device_code)
            except BadRequestError as exc:
                if exc.error_code == "slow_down":
                    interval += SLOW_DOWN_STEP
                    continue
                if exc.error_code == "access_denied":
                    raise fail("the pairing was denied in the dashboard", 3) from None
                if exc.error_code == "expired_token":
                    raise fail("the pairing expired before it was confirmed; try again") from None
                raise
            if polled.status == "approved" and polled.device_key:
                return Paired(polled.device_key, polled.agent_key, polled.team_id)
            if time.monotonic() > deadline:
                raise fail("the pairing expired before it was confirmed; try again")
