"""HMAC signatures for the embedded store's URLs.

The embedded store must refuse exactly what S3 refuses, so its URLs are built like SigV4 query
signatures: the signature covers the method, the key, every query parameter (expiry included)
and the values of the headers named in ``X-Runyard-SignedHeaders``. The client never sees those
header values in the URL; it has to send them, which is how ``If-None-Match: *`` and the exact
``Content-Length`` become mandatory. The key is derived from ``RUNYARD_SECRET_KEY`` under its own
label, so a URL signature can never double as a session token or the other way round. URLs
signed with a retired key (``RUNYARD_PREVIOUS_SECRET_KEYS``) keep verifying during a rotation.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote

from runyard.error_codes import ErrorCode

SIGNATURE = "X-Runyard-Signature"
EXPIRES = "X-Runyard-Expires"
SIGNED_HEADERS = "X-Runyard-SignedHeaders"

_KEY_LABEL = b"runyard/local-store/url/v1"
_HEADER_NAME = re.compile(r"[a-z0-9-]{1,64}")
_MAX_SIGNED_HEADERS = 16
_EXPIRY = re.compile(r"[0-9]{1,12}")


def _derive(secret_key: str) -> bytes:
    return hmac.digest(secret_key.encode(), _KEY_LABEL, "sha256")


class SignatureError(Exception):
    """A URL or request failed verification; ``code`` is the stable error code to answer with."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


class UrlSigner:
    """Signs and verifies URL query strings; the clock is injectable so tests need not sleep."""

    def __init__(
        self,
        secret_key: str,
        *,
        previous: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret_key:
            raise ValueError("the embedded store needs a non-empty secret key to sign URLs")
        self._key = _derive(secret_key)
        # Retired keys verify URLs they signed before the rotation; nothing is signed with them.
        self._retired = tuple(_derive(k) for k in previous if k and k != secret_key)
        self.clock = clock

    def sign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """The query string (without ``?``) that authorises ``method`` on ``key``."""
        query = dict(params or {})
        query[EXPIRES] = str(int(self.clock()) + expires_in)
        signed = {name.lower(): value.strip() for name, value in (headers or {}).items()}
        if signed:
            query[SIGNED_HEADERS] = ";".join(sorted(signed))
        signature = self._signature(method, key, query, signed, self._key)
        # Expiry and signature are URL-safe already; quote() costs microseconds on a hot path.
        encoded = [
            f"{name}={value if name == EXPIRES else quote(value, safe='')}"
            for name, value in query.items()
        ]
        encoded.append(f"{SIGNATURE}={signature}")
        return "&".join(encoded)

    def verify(
        self, method: str, key: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> None:
        """Raise ``SignatureError`` unless the request matches its signature and is not expired.

        ``headers`` must look names up case-insensitively (Starlette's ``Headers`` does).
        The signature is checked before the expiry so a tampered expiry reads as tampering.
        """
        signature, expires = query.get(SIGNATURE), query.get(EXPIRES)
        if not signature or not expires:
            raise SignatureError(
                "signature_missing", "This URL carries no signature: request a new signed URL."
            )
        signed: dict[str, str] = {}
        names = list(filter(None, query.get(SIGNED_HEADERS, "").split(";")))
        if len(names) > _MAX_SIGNED_HEADERS or not all(map(_HEADER_NAME.fullmatch, names)):
            # We only ever sign a few lower-case token names; anything else was tampered with
            # (and a non-ASCII name cannot even be looked up among latin-1 HTTP headers).
            raise SignatureError(
                "signature_mismatch",
                "The signed header list was altered: use the URL exactly as it was given.",
            )
        for name in names:
            value = headers.get(name)
            if value is None:
                raise SignatureError(
                    "signed_header_missing",
                    f"The {name!r} header is part of this URL's signature: send every header "
                    "of upload_headers verbatim.",
                )
            signed[name] = value.strip()
        unsigned = {k: v for k, v in query.items() if k != SIGNATURE}
        if not any(
            hmac.compare_digest(
                self._signature(method, key, unsigned, signed, secret).encode(), signature.encode()
            )
            for secret in (self._key, *self._retired)
        ):
            raise SignatureError(
                "signature_mismatch",
                "The signature does not match the request: send the URL unchanged with every "
                "header of upload_headers verbatim (Content-Length must equal the signed size).",
            )
        if not _EXPIRY.fullmatch(expires) or int(expires) < self.clock():
            raise SignatureError("url_expired", "This URL has expired: request a new one.")

    def _signature(
        self,
        method: str,
        key: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        secret: bytes,
    ) -> str:
        # JSON gives an unambiguous encoding of the parts without a hand-made escaping scheme.
        message = json.dumps(
            [method.upper(), key, sorted(query.items()), sorted(headers.items())],
            separators=(",", ":"),
        ).encode()
        digest = hmac.digest(secret, message, "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
