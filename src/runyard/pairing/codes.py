"""The two codes of a pairing: a long random device code (the device's secret) and a short
user code a person types, from RFC 8628's alphabet of consonants (no vowels, so no words; no
digits or letters that look alike)."""

from __future__ import annotations

import secrets

from runyard.auth.security import sha256_hex

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8  # 20^8 ≈ 2.6e10 codes, guessed only by signed-in users at a limited rate


def new_device_code() -> str:
    return "pc-" + secrets.token_urlsafe(32)


def new_user_code() -> str:
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_user_code(value: str) -> str:
    """Upper case without separators or spaces: ``abcd efgh`` and ``ABCD-EFGH`` are the same."""
    return "".join(c for c in value.upper() if c.isalnum())


def user_code_hash(value: str) -> str:
    return sha256_hex("user-code:" + normalise_user_code(value))


def device_code_hash(value: str) -> str:
    return sha256_hex("device-code:" + value.strip())
