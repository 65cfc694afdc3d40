"""WebSocket close codes of the agent gateway, each marked retryable or terminal.

A retryable close means "reconnect with backoff"; a terminal one means "a human must act"
(bad key, protocol mismatch) and the agent stops instead of hammering the server.
"""

from __future__ import annotations

import enum


class CloseReason(enum.Enum):
    """(code, retryable, description). Codes 4000-4999 are free for applications."""

    SERVER_SHUTDOWN = (4000, True, "server is shutting down; reconnect")
    HEARTBEAT_TIMEOUT = (4001, True, "no heartbeat received in time; reconnect")
    REPLACED = (4002, True, "another connection with the same agent_id took over")
    PROTOCOL_ERROR = (4003, True, "malformed or unexpected frame")
    SERVER_ERROR = (4004, True, "the server could not handle a frame (database down?); reconnect")
    TOO_MANY_FRAMES = (4005, True, "too many frames for tasks this connection does not hold")
    INVALID_KEY = (4010, False, "the agent key is invalid, expired or revoked")
    AGENT_ID_TAKEN = (4011, False, "agent_id is registered to another agent key")
    UNSUPPORTED_PROTOCOL = (4012, False, "protocol version not supported by this server")

    def __init__(self, code: int, retryable: bool, description: str) -> None:
        self.code = code
        self.retryable = retryable
        self.description = description


def close_reason_for(code: int | None) -> CloseReason | None:
    """The reason behind a close code, or None for codes outside ours (network drops, 1000...)."""
    for reason in CloseReason:
        if reason.code == code:
            return reason
    return None
