"""The HTTP edge: what every response and request passes through before and after the routes.

Bounds on request headers and query strings, security headers, CORS, the one place an
unexpected exception becomes a 500 (without dropping the keep-alive connection), and the API
docs served from the server's own static files (no CDN).
"""

from runyard.edge.install import install_edge

__all__ = ["install_edge"]
