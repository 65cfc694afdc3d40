"""``client.auth``: logging in, sessions, device keys and device pairing."""

from __future__ import annotations

from typing import TypeVar

from runyard_client._base import Call, api, parse_none
from runyard_client._models import CreatedCredential, PairingPolled, PairingStarted, TokenPair, User
from runyard_client._resources import Resource, endpoint, model

X = TypeVar("X")


def bearer(access_token: str | None, team_id: str | None = None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    if team_id:
        headers["X-Team-ID"] = team_id
    return headers


class Auth(Resource[X]):
    """Sessions and device keys. ``access_token``/``team_id`` override the client's own key for
    one call (``runyard login`` logs in, then mints a device key with the new session)."""

    @endpoint
    def login(self, email_address: str, user_password: str) -> Call[TokenPair]:
        return Call(
            "POST",
            api("/auth/login"),
            model(TokenPair),
            authenticated=False,
            json={"email_address": email_address, "user_password": user_password},
        )

    @endpoint
    def refresh(self, refresh_token: str) -> Call[TokenPair]:
        return Call(
            "POST",
            api("/auth/refresh"),
            model(TokenPair),
            authenticated=False,
            json={"refresh_token": refresh_token},
        )

    @endpoint
    def logout(self, *, access_token: str | None = None) -> Call[None]:
        return Call("POST", api("/auth/logout"), parse_none, headers=bearer(access_token))

    @endpoint
    def create_device_key(
        self, device_name: str, *, access_token: str | None = None, team_id: str | None = None
    ) -> Call[CreatedCredential]:
        return Call(
            "POST",
            api("/auth/device-keys"),
            model(CreatedCredential),
            json={"device_name": device_name},
            headers=bearer(access_token, team_id),
        )

    @endpoint
    def start_pairing(self, device_name: str, with_agent_key: bool = False) -> Call[PairingStarted]:
        """Device pairing (``runyard login --device``): needs no credential."""
        return Call(
            "POST",
            api("/desktop/pair/start"),
            model(PairingStarted),
            authenticated=False,
            json={"device_name": device_name, "with_agent_key": with_agent_key},
        )

    @endpoint
    def poll_pairing(self, device_code: str) -> Call[PairingPolled]:
        """``pending`` or ``approved`` with the keys; refusals raise ``BadRequestError`` with
        ``error_code`` ``slow_down``, ``expired_token``, ``access_denied`` or ``invalid_grant``."""
        return Call(
            "POST",
            api("/desktop/pair/poll"),
            model(PairingPolled),
            authenticated=False,
            json={"device_code": device_code},
        )

    @endpoint
    def me(self, *, access_token: str | None = None) -> Call[User]:
        return Call("GET", api("/users/me"), model(User), headers=bearer(access_token))
