"""Runyard server: the API, the agent gateway, the scheduler, object storage and the CLI."""

__version__ = "0.1.0"
