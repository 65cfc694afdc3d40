"""The outputs of a completion: those uploaded through URLs are checked in the store; those an
agent sends inside its ``task.complete.v1`` (``OutputSpec.data``) are written to it.

Inline outputs are offered in the welcome when the store is the embedded one, which receives the
bytes through the server anyway: one frame instead of an output-URL request, its grant and an
HTTP PUT per small output.

The objects are written before the completion's unit of work (never inside a transaction), under
keys of the agent's own team numbered after the attempt's other slots; when the completion does
not apply (a stale attempt, a duplicate, outputs that do not match), the objects this call wrote
are removed again. A resent completion finds its own bytes already there and reuses them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from runyard.files.naming import output_key, safe_file_name
from runyard.storage.base import ObjectExists, Storage, StorageError
from runyard.tasks.execution import AgentRef, Slot
from runyard_protocol import MAX_INLINE_OUTPUT, MAX_INLINE_TOTAL, OutputSpec

log = logging.getLogger("runyard.gateway")


@dataclass
class InlineOutputs:
    slots: list[Slot] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # keys this completion created
    problem: str | None = None  # why the completion cannot apply as sent


def decoded(
    me: AgentRef, task_id: str, attempt: int, specs: Sequence[OutputSpec], known: Sequence[Slot]
) -> tuple[list[tuple[Slot, bytes]], str | None]:
    """Each inline output as a slot numbered after the ``known`` ones and its bytes; or what
    is wrong with them."""
    taken = {slot.output_id for slot in known}
    pairs: list[tuple[Slot, bytes]] = []
    total = 0
    for spec in specs:
        assert spec.data is not None
        try:
            body = base64.b64decode(spec.data, validate=True)
        except (binascii.Error, ValueError):
            return [], f"inline output {spec.output_id!r} is not valid base64"
        total += len(body)
        if len(body) != spec.file_size:
            return [], f"inline output {spec.output_id!r} is not {spec.file_size} bytes long"
        if len(body) > MAX_INLINE_OUTPUT or total > MAX_INLINE_TOTAL:
            return [], (
                f"inline outputs are limited to {MAX_INLINE_OUTPUT} bytes each and "
                f"{MAX_INLINE_TOTAL} in all"
            )
        if spec.output_id in taken:
            return [], f"output {spec.output_id!r} is reported twice"
        taken.add(spec.output_id)
        digest = hashlib.sha256(body).hexdigest()
        if spec.sha256 is not None and spec.sha256 != digest:
            return [], f"inline output {spec.output_id!r} does not have the sha256 it reports"
        name = safe_file_name(spec.file_name)
        index = len(known) + len(pairs)
        key = output_key(me.team_id, task_id, attempt, index, name)
        pairs.append((Slot(spec.output_id, name, spec.content_type, len(body), key, digest), body))
    return pairs, None


async def store_inline(
    store: Storage,
    me: AgentRef,
    task_id: str,
    attempt: int,
    specs: Sequence[OutputSpec],
    known: Sequence[Slot],
) -> InlineOutputs:
    """Write the completion's inline outputs to the store; ``problem`` says why it could not."""
    result = InlineOutputs()
    if not specs:
        return result
    # Only the embedded store takes bytes from the server (a getattr: a runtime-checked
    # Protocol's isinstance cost more than the rest of this function).
    put_small: Callable[[str, bytes], Awaitable[bool]] | None = getattr(store, "put_small", None)
    if put_small is None:
        result.problem = "inline outputs are not accepted by this server (S3 store)"
        return result
    pairs, result.problem = decoded(me, task_id, attempt, specs, known)
    for slot, body in pairs:
        try:
            if await put_small(slot.object_key, body):
                result.written.append(slot.object_key)
        except (ObjectExists, StorageError) as exc:
            result.problem = f"inline output {slot.output_id!r} could not be stored: {exc}"
            break
        result.slots.append(slot)
    return result


async def discard(store: Storage, keys: Sequence[str]) -> None:
    """Remove what a completion wrote when it did not apply (best effort: logged)."""
    for key in keys:
        try:
            await store.delete(key)
        except (StorageError, OSError) as exc:
            log.warning("could not remove unused inline output %s: %s", key, exc)


async def missing_output(store: Storage, uploaded: Sequence[Slot]) -> str | None:
    """What is wrong with the outputs uploaded through URLs, checked outside any session
    (network I/O on S3), or None when each is in the store with its declared size."""
    for slot in uploaded:
        info = await store.head(slot.object_key)
        if info is None or info.size != slot.file_size:
            return (
                f"output {slot.output_id!r} is missing from the store or has the "
                f"wrong size ({info.size if info else 'none'} != {slot.file_size})"
            )
    return None
