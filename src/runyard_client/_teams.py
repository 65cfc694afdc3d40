"""``client.teams`` and ``client.account``: teams, members, invitations, the caller's account.

The server allows these to session tokens (``client.auth.login``), not to ``sk-``/``dk-`` keys;
``team_id`` is always explicit (the team in the path)."""

from __future__ import annotations

from typing import Any

from runyard_client._base import Call, api, parse_none
from runyard_client._models import (
    AcceptedInvitation,
    CreatedInvitation,
    Invitation,
    Member,
    Page,
    TeamInfo,
    TokenPair,
)
from runyard_client._resources import Resource, X, endpoint, model, page_of, paging, seg


def token_of(token_or_url: str) -> str:
    """The token of an invitation, given the token or the whole ``accept_url``."""
    return token_or_url.rsplit("token=", 1)[-1].strip()


class Teams(Resource[X]):
    @endpoint
    def create(self, display_name: str) -> Call[TeamInfo]:
        return Call("POST", api("/teams"), model(TeamInfo), json={"display_name": display_name})

    @endpoint
    def update(self, team_id: str, display_name: str) -> Call[TeamInfo]:
        return Call(
            "PUT",
            api(f"/teams/{seg(team_id)}"),
            model(TeamInfo),
            json={"display_name": display_name},
        )

    @endpoint
    def delete(self, team_id: str, team_name: str) -> Call[None]:
        """Delete the team and everything in it (owner only); ``team_name`` confirms."""
        return Call(
            "DELETE", api(f"/teams/{seg(team_id)}"), parse_none, json={"team_name": team_name}
        )

    @endpoint
    def transfer_ownership(self, team_id: str, user_id: str) -> Call[None]:
        return Call(
            "POST",
            api(f"/teams/{seg(team_id)}/transfer-ownership"),
            parse_none,
            json={"user_id": user_id},
        )

    @endpoint
    def leave(self, team_id: str) -> Call[None]:
        return Call("POST", api(f"/teams/{seg(team_id)}/leave"), parse_none)

    @endpoint
    def members(
        self, team_id: str, *, current_page: int = 1, per_page: int = 20
    ) -> Call[Page[Member]]:
        return Call(
            "GET",
            api(f"/teams/{seg(team_id)}/members"),
            page_of("members", Member),
            params=paging(current_page, per_page),
        )

    @endpoint
    def set_role(self, team_id: str, user_id: str, role: str) -> Call[Member]:
        return Call(
            "PUT",
            api(f"/teams/{seg(team_id)}/members/{seg(user_id)}"),
            model(Member),
            json={"role": role},
        )

    @endpoint
    def remove_member(self, team_id: str, user_id: str) -> Call[None]:
        return Call("DELETE", api(f"/teams/{seg(team_id)}/members/{seg(user_id)}"), parse_none)

    @endpoint
    def invite(
        self, team_id: str, email_address: str, role: str = "member"
    ) -> Call[CreatedInvitation]:
        return Call(
            "POST",
            api(f"/teams/{seg(team_id)}/invitations"),
            model(CreatedInvitation),
            json={"email_address": email_address, "role": role},
        )

    @endpoint
    def invitations(
        self, team_id: str, *, current_page: int = 1, per_page: int = 20
    ) -> Call[Page[Invitation]]:
        return Call(
            "GET",
            api(f"/teams/{seg(team_id)}/invitations"),
            page_of("invitations", Invitation),
            params=paging(current_page, per_page),
        )

    @endpoint
    def revoke_invitation(self, team_id: str, invitation_id: str) -> Call[None]:
        return Call(
            "DELETE",
            api(f"/teams/{seg(team_id)}/invitations/{seg(invitation_id)}"),
            parse_none,
        )

    @endpoint
    def accept_invitation(
        self, token_or_url: str, *, password: str | None = None, display_name: str = ""
    ) -> Call[AcceptedInvitation]:
        """Join with an invitation. With ``password``: as the invited address's account
        (created when it has none), without a credential; otherwise as the client's session."""
        body: dict[str, Any] = {"token": token_of(token_or_url)}
        if password is not None:
            body.update(password=password, display_name=display_name)
        return Call(
            "POST",
            api("/invitations/accept"),
            model(AcceptedInvitation),
            json=body,
            authenticated=password is None,
        )


class Account(Resource[X]):
    @endpoint
    def signup(self, email_address: str, password: str, display_name: str = "") -> Call[TokenPair]:
        """Create an account (only when the server's registration is ``open``)."""
        return Call(
            "POST",
            api("/auth/signup"),
            model(TokenPair),
            authenticated=False,
            json={
                "email_address": email_address,
                "password": password,
                "display_name": display_name,
            },
        )

    @endpoint
    def update(self, display_name: str) -> Call[None]:
        return Call("PUT", api("/users/me"), parse_none, json={"display_name": display_name})

    @endpoint
    def change_password(self, current_password: str, new_password: str) -> Call[None]:
        """Every other session of the user ends."""
        return Call(
            "POST",
            api("/users/me/password"),
            parse_none,
            json={"current_password": current_password, "new_password": new_password},
        )
