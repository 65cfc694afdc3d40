"""Who is calling, and the access matrix of contract section 2, in one table.

Every route declares one ``Policy``; ``authorize`` decides from (policy, credential kind, role).
The matrix test walks this same table cell by cell against the real endpoints.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from runyard.errors import BadRequest, Forbidden, RunyardError, Unauthenticated

CallerKind = Literal["session", "integration", "device", "agent"]
ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True)
class Principal:
    kind: CallerKind
    team_id: str | None
    user_id: str | None = None
    role: str | None = None
    key_id: str | None = None
    session_id: str | None = None

    @property
    def team(self) -> str:
        """The team the caller acts in; every team-scoped policy resolved one, so a missing
        team is a request that named none."""
        if self.team_id is None:
            raise BadRequest(
                "This needs a team: send the team's id in the X-Team-ID header.",
                code="team_required",
            )
        return self.team_id

    @property
    def rate_key(self) -> str:
        """The credential rate limits count against: the API key, else the user's login."""
        return f"key:{self.key_id}" if self.key_id else f"user:{self.user_id}"


class Policy(enum.Enum):
    RUNTIME_WRITE = "runtime_write"  # presign, run, cancel
    RUNTIME_READ = "runtime_read"  # /r reads
    MULTIPART = "multipart"
    MANAGE_READ = "manage_read"  # /workflows reads
    MANAGE_WRITE = "manage_write"  # /workflows writes
    ADMIN = "admin"  # /credentials, members
    MEMBERSHIP = "membership"  # POST /teams/{id}/leave: any member, with a session
    ACCOUNT = "account"  # POST /teams, /auth/logout
    DEVICE_KEYS = "device_keys"  # POST /auth/device-keys (team-scoped)
    USERS_ME = "users_me"
    GATEWAY = "gateway"
    MCP = "mcp"  # the MCP server at /mcp: integration keys only, acting as a member


# Per policy: the minimum role for session (and device, which acts as its user) callers, and
# what each key kind gets: True (allowed) or the status of the refusal.
_MIN_ROLE: dict[Policy, str | None] = {
    Policy.RUNTIME_WRITE: "member",
    Policy.RUNTIME_READ: "viewer",
    Policy.MULTIPART: "member",
    Policy.MANAGE_READ: "viewer",
    Policy.MANAGE_WRITE: "member",
    Policy.ADMIN: "admin",
    Policy.MEMBERSHIP: "viewer",
    Policy.ACCOUNT: None,
    Policy.DEVICE_KEYS: "viewer",
    Policy.USERS_ME: None,
    Policy.GATEWAY: None,
    Policy.MCP: "member",
}
MATRIX: dict[Policy, dict[CallerKind, bool | int]] = {
    Policy.RUNTIME_WRITE: {"session": True, "integration": True, "device": True, "agent": 403},
    Policy.RUNTIME_READ: {"session": True, "integration": True, "device": True, "agent": 403},
    Policy.MULTIPART: {"session": True, "integration": 401, "device": 401, "agent": 401},
    Policy.MANAGE_READ: {"session": True, "integration": 403, "device": True, "agent": 403},
    Policy.MANAGE_WRITE: {"session": True, "integration": 403, "device": True, "agent": 403},
    Policy.ADMIN: {"session": True, "integration": 403, "device": 403, "agent": 403},
    Policy.MEMBERSHIP: {"session": True, "integration": 403, "device": 403, "agent": 403},
    Policy.ACCOUNT: {"session": True, "integration": 403, "device": 403, "agent": 403},
    Policy.DEVICE_KEYS: {"session": True, "integration": 403, "device": 403, "agent": 403},
    Policy.USERS_ME: {"session": True, "integration": 403, "device": True, "agent": 403},
    Policy.GATEWAY: {"session": 403, "integration": 403, "device": 403, "agent": True},
    Policy.MCP: {"session": 403, "integration": True, "device": 403, "agent": 403},
}
NEEDS_TEAM = {p for p in Policy if p not in (Policy.ACCOUNT, Policy.USERS_ME)}


def refusal(policy: Policy, kind: CallerKind) -> RunyardError | None:
    """The error for a credential kind this policy refuses outright, else None."""
    verdict = MATRIX[policy][kind]
    if verdict is True:
        return None
    if policy is Policy.MULTIPART:
        return Unauthenticated(
            "Multipart uploads accept only user session tokens (POST /api/v1/auth/login). "
            "With an integration (sk-) or device (dk-) key use POST /api/v1/r/files/presign.",
            code="credential_kind_not_allowed",
        )
    if policy is Policy.GATEWAY:
        return Forbidden(
            "The agent gateway accepts only agent (ak-) keys.", code="credential_kind_not_allowed"
        )
    if policy is Policy.MCP:
        return Forbidden(
            "The MCP server accepts only integration (sk-) keys: create one with "
            'POST /api/v1/credentials {"kind": "integration"}.',
            code="credential_kind_not_allowed",
        )
    if kind == "agent":
        return Forbidden(
            "Agent (ak-) keys may only connect to the agent gateway.",
            code="credential_kind_not_allowed",
        )
    article = "An" if kind[0] in "aeiou" else "A"
    return Forbidden(
        f"{article} {kind} credential cannot call this endpoint; use a user session token.",
        code="credential_kind_not_allowed",
    )


def check_role(policy: Policy, role: str | None) -> None:
    needed = _MIN_ROLE[policy]
    if needed is None:
        return
    if role is None or ROLE_RANK.get(role, -1) < ROLE_RANK[needed]:
        raise Forbidden(
            f"This needs the role '{needed}' or higher in the team; yours is '{role}'.",
            code="role_insufficient",
        )
