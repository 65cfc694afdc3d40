"""Secrets: argon2 for passwords, SHA-256 for random API keys and refresh tokens, HS256 JWTs."""

from __future__ import annotations

import hashlib
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


def encode_access_token(secret: str, user_id: str, family_id: str, now: datetime, ttl: int) -> str:
    claims = {
        "sub": user_id,
        "sid": family_id,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_access_token(secret: str, token: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == "access" else None
