"""Deployed python code (``runyard workflows deploy``): each version's bundle fetched once and
cached by sha256 (``cache``), its tasks run in child processes (``process``, ``child``) kept warm
and reused per (bundle, entrypoint) (``pool``).
"""

from runyard_agent.runtimes.bundles.cache import BundleCache
from runyard_agent.runtimes.bundles.pool import WarmPool, run_in_child
from runyard_agent.runtimes.bundles.process import CallbackSink, LogSink

__all__ = ["BundleCache", "CallbackSink", "LogSink", "WarmPool", "run_in_child"]
