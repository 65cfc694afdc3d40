"""A guard around the object store for integration tests: a network call to the store while
the calling task holds a database transaction fails the test (the transaction rule of
docs/architecture.md: no network I/O with a connection checked out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from runyard.db.unit import connection_held
from runyard.storage.base import Storage

NETWORK_CALLS = (
    "head",
    "delete",
    "delete_prefix",
    "create_multipart",
    "list_parts",
    "complete_multipart",
    "abort_multipart",
)


class ConnectionHeldDuringIO(AssertionError):
    pass


def forbid_io_in_transactions(storage: Storage) -> Storage:
    """Patch the store's network methods in place (``isinstance`` checks keep working)."""
    for name in NETWORK_CALLS:
        original: Callable[..., Awaitable[Any]] | None = getattr(storage, name, None)
        if original is None:
            continue

        async def checked(
            *args: Any,
            _original: Callable[..., Awaitable[Any]] = original,
            _name: str = name,
            **kwargs: Any,
        ) -> Any:
            if connection_held():
                raise ConnectionHeldDuringIO(
                    f"storage.{_name}() was called while a database connection is checked out"
                )
            return await _original(*args, **kwargs)

        setattr(storage, name, checked)
    return storage
