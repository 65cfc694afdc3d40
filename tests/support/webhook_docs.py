"""The verification functions docs/webhooks.md shows, extracted from the page and executed as
they stand (so the documented code is the tested code)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


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


def verify_both(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Both documented checks on one received request (headers with lower-case names)."""
    fns = documented_functions()
    return bool(
        fns["verify_signature_256"](secret, body, headers["x-webhook-signature-256"])
    ) and bool(fns["verify_standard_webhook"](secret, headers, body))
