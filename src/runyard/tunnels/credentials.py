"""Short-lived credentials scoped to one tunnel, signed with the server's secret key: the
browser's cookie on the tunnel origin, and the hop between server processes. Each names its
purpose, the tunnel and an expiry, so one can never stand for another or for a session."""

from __future__ import annotations

import hashlib
import hmac

COOKIE_NAME = "runyard_tunnel"
HOP_HEADER = "X-Runyard-Tunnel-Hop"


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, purpose: str, tunnel_id: str, expires: int) -> str:
    """``tunnel_id.expires.mac`` (expires: epoch seconds)."""
    return f"{tunnel_id}.{expires}.{_mac(secret, f'{purpose}:{tunnel_id}:{expires}')}"


def verify(secrets: tuple[str, ...], purpose: str, value: str, now: float) -> str | None:
    """The tunnel id a valid, unexpired credential names; else None."""
    parts = value.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    tunnel_id, expires, mac = parts
    if int(expires) < now:
        return None
    for secret in secrets:
        if secret and hmac.compare_digest(mac, _mac(secret, f"{purpose}:{tunnel_id}:{expires}")):
            return tunnel_id
    return None
