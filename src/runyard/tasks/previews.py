"""The latest live preview image of each running task, in this process's memory.

Agents send ``task.preview.v1`` (ComfyUI sampler previews) to the process they are connected
to; ``GET /api/v1/r/tasks/{id}/preview`` answers from here. Bounded by count (least recently
updated dropped first) and each image by ``MAX_PREVIEW_BYTES``: at most ``capacity`` x 256 KiB.
With several server processes a request that lands on another process than the agent's gets
404 ``preview_not_found`` (previews are a best-effort live view, never stored in the database).
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass

from runyard_protocol import MAX_PREVIEW_BYTES

DEFAULT_CAPACITY = 256


@dataclass(frozen=True)
class Preview:
    attempt: int
    content_type: str
    data: bytes
    node: str | None


class PreviewStore:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Preview] = OrderedDict()

    def put(self, task_id: str, preview: Preview) -> None:
        self._items[task_id] = preview
        self._items.move_to_end(task_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, task_id: str, attempt: int) -> Preview | None:
        """The latest preview of this attempt of the task, if any."""
        preview = self._items.get(task_id)
        return preview if preview is not None and preview.attempt == attempt else None

    def discard(self, task_id: str) -> None:
        self._items.pop(task_id, None)

    def __len__(self) -> int:
        return len(self._items)


def decode_preview(data: str) -> bytes | None:
    """The image bytes of a ``task.preview.v1``; None unless base64 of 1 to 256 KiB."""
    try:
        image = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return image if 0 < len(image) <= MAX_PREVIEW_BYTES else None
