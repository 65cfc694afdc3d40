"""Secrets: argon2 for passwords, SHA-256 for random API keys and refresh tokens, HS256 JWTs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KeyKind = Literal["integration", "device", "agent"]
KEY_PREFIXES: dict[str, str] = {"integration": "sk-", "device": "dk-", "agent": "ak-"}
KIND_BY_PREFIX = {v: k for k, v in KEY_PREFIXES.items()}

_hasher = PasswordHasher()
# A hash to verify against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("runyard-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_api_key(kind: KeyKind) -> tuple[str, str, str]:
    """(raw key shown once, display prefix, stored hash)."""
    raw = KEY_PREFIXES[kind] + secrets.token_urlsafe(32)
    return raw, raw[:11], sha256_hex(raw)


def new_refresh_token() -> tuple[str, str]:
    raw = "rt-" + secrets.token_urlsafe(32)
    return raw, sha256_hex(raw)


# Every claim a session token must carry; a token missing one is refused, not defaulted.
REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "typ"]
_TOKEN_KEY_LABEL = b"runyard/session-token/v1"
_KID_LABEL = b"runyard/session-token/kid/v1"


def token_key(secret: str) -> bytes:
    """The HS256 key derived from a secret under its own label (URLs use another label)."""
    return hmac.digest(secret.encode(), _TOKEN_KEY_LABEL, "sha256")


def key_id(secret: str) -> str:
    """A public, stable id of a secret (the JWT ``kid``); it reveals nothing of the secret."""
    return hmac.new(secret.encode(), _KID_LABEL, "sha256").hexdigest()[:16]


def encode_access_token(secret: str, user_id: str, family_id: str, now: datetime, ttl: int) -> str:
    claims = {
        "sub": user_id,
        "sid": family_id,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    return jwt.encode(claims, token_key(secret), algorithm="HS256", headers={"kid": key_id(secret)})


def decode_access_token(secrets_: str | tuple[str, ...], token: str) -> dict[str, Any] | None:
    """The claims of a valid access token signed with one of ``secrets_`` (the current secret
    first, then the previous ones, so a rotation does not log everyone out), or None."""
    candidates = (secrets_,) if isinstance(secrets_, str) else secrets_
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    secret = next((s for s in candidates if s and key_id(s) == kid), None)
    if secret is None:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            token_key(secret),
            algorithms=["HS256"],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    if not all(isinstance(claims.get(c), str) and 0 < len(claims[c]) <= 64 for c in ("sub", "sid")):
        return None
    return claims
