"""Deployed python code (``runyard workflows deploy``): each version's bundle fetched once and
cached by sha256 (``cache``), each task run in its own child process (``process``, ``child``).
"""

from runyard_agent.runtimes.bundles.cache import BundleCache
from runyard_agent.runtimes.bundles.process import CallbackSink, LogSink, WarmPool, run_in_child

__all__ = ["BundleCache", "CallbackSink", "LogSink", "WarmPool", "run_in_child"]
