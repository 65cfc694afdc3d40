"""Why one item of the library sync (a model, a node package) could not be synced."""

from __future__ import annotations


class SyncError(Exception):
    """One model or package could not be synced (the message says why); the others go on."""


class DiskFullError(SyncError):
    """Not enough disk for it: the agent reports itself unhealthy."""
