"""The web dashboard: static files (plain ES modules and a vendored Preact + htm) served at
``/`` with assets under ``/ui/``; no build step and no Node at run time. The pages talk to the
JSON API like any other client. See docs/architecture.md ("Dashboard")."""

from runyard.dashboard.csp import dashboard_csp
from runyard.dashboard.mount import ASSETS_URL, PAIR_URL, STATIC_PACKAGE, mount_dashboard

__all__ = ["ASSETS_URL", "PAIR_URL", "STATIC_PACKAGE", "dashboard_csp", "mount_dashboard"]
