"""Request bodies the embedded store receives: exactly the signed number of bytes, or nothing
is kept (one check shared by single PUTs, small bodies read whole, and multipart parts)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from runyard.storage.base import StorageError


class BodyLengthMismatch(StorageError):
    """The body did not have the signed length; nothing was kept."""


async def exactly(length: int, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The body's chunks; ``BodyLengthMismatch`` as soon as it is longer than ``length``, or at
    its end when it is shorter."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > length:
            raise BodyLengthMismatch(f"the body is longer than the signed {length} bytes")
        yield chunk
    if received != length:
        raise BodyLengthMismatch(f"received {received} of the signed {length} bytes")


async def read_exactly(length: int, chunks: AsyncIterable[bytes]) -> bytes:
    """The whole body, which must be exactly ``length`` bytes."""
    return b"".join([chunk async for chunk in exactly(length, chunks)])
