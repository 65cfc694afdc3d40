"""The agent connection's states and the moves allowed between them::

disconnected -> connecting -> hello_sent -> ready -> draining -> closed
      ^             |              |           |         |
      +-------------+--------------+-----------+---------+   connection lost: back off, redial
"""

from __future__ import annotations

import enum

__all__ = ["TRANSITIONS", "ConnectionState"]


class ConnectionState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    HELLO_SENT = "hello_sent"
    READY = "ready"
    DRAINING = "draining"
    CLOSED = "closed"


_S = ConnectionState
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.DISCONNECTED: frozenset({_S.CONNECTING, _S.CLOSED}),
    _S.CONNECTING: frozenset({_S.HELLO_SENT, _S.DISCONNECTED, _S.CLOSED}),
    _S.HELLO_SENT: frozenset({_S.READY, _S.DRAINING, _S.DISCONNECTED, _S.CLOSED}),
    _S.READY: frozenset({_S.DRAINING, _S.DISCONNECTED, _S.CLOSED}),
    _S.DRAINING: frozenset({_S.DISCONNECTED, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}
