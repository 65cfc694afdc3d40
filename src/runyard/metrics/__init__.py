"""Prometheus metrics of one server process: ``GET /metrics`` behind a bearer token
(``RUNYARD_METRICS_TOKEN``; unset, the route answers 404).

``Metrics`` (``registry.py``) owns a ``CollectorRegistry`` built per app in ``install_metrics``;
nothing is registered at import. Counters and histograms are fed by cheap hooks (the HTTP
middleware, the database's transition observer); gauges about the queue are read from the
database, the gateway and the event hub when Prometheus scrapes (``refresh``).
"""

from runyard.metrics.endpoints import install_metrics
from runyard.metrics.registry import Metrics

__all__ = ["Metrics", "install_metrics"]
