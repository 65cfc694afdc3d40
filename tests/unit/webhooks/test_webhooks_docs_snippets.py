"""The verification code of docs/webhooks.md, extracted from the page and executed as it
stands, against headers and bodies signed by the server's own signing code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runyard.webhooks.signing import new_secret, signed_headers

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def documented_functions() -> dict[str, Callable[..., Any]]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Signatures and how to verify them") :]
    section = section[: section.index("\n## ", 4)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "docs/webhooks.md should show two verification snippets"
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    return {k: v for k, v in namespace.items() if k.startswith("verify_")}


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
