"""The in-memory store of live previews: latest per task, of the current attempt, bounded."""

from __future__ import annotations

import base64

from runyard.tasks.previews import Preview, PreviewStore, decode_preview
from runyard_protocol import MAX_PREVIEW_BYTES


def image(n: int, attempt: int = 1) -> Preview:
    return Preview(attempt, "image/jpeg", bytes([n]) * 10, "3")


def test_latest_per_task_and_only_for_its_attempt() -> None:
    store = PreviewStore()
    store.put("t1", image(1))
    store.put("t1", image(2))
    assert store.get("t1", 1) == image(2)
    assert store.get("t1", 2) is None  # a retry does not show the old attempt's preview
    store.discard("t1")
    assert store.get("t1", 1) is None and len(store) == 0


def test_bounded_by_count_least_recently_updated_first() -> None:
    store = PreviewStore(capacity=2)
    store.put("a", image(1))
    store.put("b", image(2))
    store.put("a", image(3))  # a is fresher than b now
    store.put("c", image(4))
    assert store.get("b", 1) is None
    assert store.get("a", 1) == image(3) and store.get("c", 1) == image(4)
    assert len(store) == 2


def test_decode_preview_bounds() -> None:
    assert decode_preview(base64.b64encode(b"\xff\xd8jpeg").decode()) == b"\xff\xd8jpeg"
    assert decode_preview("not base64!") is None
    assert decode_preview("") is None
    too_big = base64.b64encode(b"x" * (MAX_PREVIEW_BYTES + 1)).decode()
    assert decode_preview(too_big) is None
    exact = base64.b64encode(b"x" * MAX_PREVIEW_BYTES).decode()
    assert decode_preview(exact) is not None
