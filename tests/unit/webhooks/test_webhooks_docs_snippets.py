"""The verification code of docs/webhooks.md, extracted from the page and executed as it
stands, against headers and bodies signed by the server's own signing code."""

from __future__ import annotations

import time

from runyard.webhooks.signing import new_secret, signed_headers
from tests.support.webhook_docs import documented_functions


def test_both_documented_snippets_verify_a_server_signed_attempt() -> None:
    fns = documented_functions()
    secret, body = new_secret(), b'{"event_type":"task.completed","task_id":"x"}'
    headers = {
        k.lower(): v for k, v in signed_headers(secret, "msg_1", int(time.time()), body).items()
    }
    assert fns["verify_signature_256"](secret, body, headers["x-webhook-signature-256"])
    assert fns["verify_standard_webhook"](secret, headers, body)


def test_the_documented_snippets_refuse_tampering_and_other_secrets() -> None:
    fns = documented_functions()
    secret, body = new_secret(), b'{"task_id":"x"}'
    headers = {
        k.lower(): v for k, v in signed_headers(secret, "msg_1", int(time.time()), body).items()
    }
    assert not fns["verify_signature_256"](secret, body + b" ", headers["x-webhook-signature-256"])
    assert not fns["verify_signature_256"](new_secret(), body, headers["x-webhook-signature-256"])
    assert not fns["verify_standard_webhook"](new_secret(), headers, body)
    assert not fns["verify_standard_webhook"](secret, {**headers, "webhook-id": "msg_2"}, body)
    old = {
        k.lower(): v
        for k, v in signed_headers(secret, "msg_1", int(time.time()) - 3600, body).items()
    }
    assert not fns["verify_standard_webhook"](secret, old, body)  # replay window
