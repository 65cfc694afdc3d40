"""The dashboard's Content-Security-Policy: scripts and styles only from this server (no inline
script, no eval), and the object store's origin for uploads (``connect-src``) and previews
(``img-src``/``media-src``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from runyard.settings import Settings

AWS_S3 = "https://*.amazonaws.com"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def store_origins(settings: Settings) -> list[str]:
    """Where the signed URLs handed to a browser point (besides the page's own origin)."""
    found: list[str] = []
    public = _origin(settings.public_url)
    if public:
        found.append(public)
    if settings.storage == "s3":
        endpoint = settings.s3.public_endpoint or settings.s3.endpoint
        origin = _origin(endpoint) if endpoint else None
        if origin is None:
            found.append(AWS_S3)
        else:
            found.append(origin)
            if not settings.s3.path_style:  # virtual-hosted: https://<bucket>.<host>
                scheme, host = origin.split("://", 1)
                found.append(f"{scheme}://*.{host}")
    return list(dict.fromkeys(found))


def dashboard_csp(settings: Settings) -> bytes:
    stores = " ".join(store_origins(settings))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' blob: data: {stores}; media-src 'self' blob: {stores}; "
        f"connect-src 'self' {stores}; font-src 'self'; manifest-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ).encode()
