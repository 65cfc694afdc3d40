"""Scheduling: the dispatcher (claims tasks for this process's connected agents, commits, then
sends) and the reaper (ack timeouts, task timeouts, cancel grace, lost agents, revoked keys)."""

from runyard.scheduler.dispatcher import Dispatcher
from runyard.scheduler.reaper import Reaper

__all__ = ["Dispatcher", "Reaper"]
