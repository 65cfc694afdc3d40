"""The two signatures of every delivery attempt (docs/webhooks.md shows how to verify them).

- ``X-Webhook-Signature-256: sha256=<hex>``: HMAC-SHA256 keyed with the whole secret string
  (``whsec_…`` included) over the raw body.
- Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (unix seconds of this attempt) and
  ``webhook-signature: v1,<base64>``: HMAC-SHA256 keyed with the base64-decoded part after
  ``whsec_`` over ``f"{id}.{timestamp}.{body}"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key_bytes(secret: str) -> bytes:
    """The Standard Webhooks key: the base64-decoded part after ``whsec_``."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature_256(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def standard_signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    message = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of one attempt: content type, both signatures, the Standard Webhooks ids."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Runyard-Webhooks/1",
        "X-Webhook-Signature-256": signature_256(secret, body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, event_id, timestamp, body),
    }
