"""What the tunnel routes and the tunnel origin need of the server (the ``Services`` container
has each of these; naming the container itself would tie ``tunnels`` to every package)."""

from __future__ import annotations

from typing import Protocol

from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.settings import Settings
from runyard.tunnels.relay import TunnelRelays


class TunnelEnv(Protocol):
    settings: Settings
    clock: Clock
    db: Database
    tunnels: TunnelRelays
