"""Signing: the secret's shape, both schemes against independent computations."""

from __future__ import annotations

import base64
import hashlib
import hmac

from standardwebhooks.webhooks import Webhook as StandardWebhook

from runyard.webhooks.signing import (
    new_secret,
    signature_256,
    signed_headers,
    standard_signature,
)


def test_a_secret_is_whsec_and_base64_of_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_signature_256_is_hex_hmac_keyed_with_the_whole_secret() -> None:
    secret, body = new_secret(), b'{"a":1}'
    want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert signature_256(secret, body) == "sha256=" + want
    # Keyed with the whole string, whsec_ included: the decoded key gives another value.
    other = hmac.new(base64.b64decode(secret[6:]), body, hashlib.sha256).hexdigest()
    assert signature_256(secret, body) != "sha256=" + other


def test_standard_signature_matches_the_reference_library() -> None:
    secret, body, msg_id, ts = new_secret(), b'{"task_id":"t"}', "msg_abc", 1_764_650_000
    signature = standard_signature(secret, msg_id, ts, body)
    assert signature.startswith("v1,")
    ref = StandardWebhook(secret)
    from datetime import UTC, datetime

    assert ref.sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode()) == signature


def test_headers_carry_both_schemes_and_verify_with_the_reference_library() -> None:
    import time

    secret, body = new_secret(), b'{"event_type":"task.completed"}'
    headers = signed_headers(secret, "msg_1", int(time.time()), body)
    assert headers["webhook-id"] == "msg_1"
    assert headers["X-Webhook-Signature-256"] == signature_256(secret, body)
    StandardWebhook(secret).verify(body, headers)  # raises when wrong
