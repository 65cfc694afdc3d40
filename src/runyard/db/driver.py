"""The driver connection (asyncpg) as the one-statement paths use it, typed: what they call and
nothing more, so mypy checks those calls and no ``Any`` spreads from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Record(Protocol):
    def __getitem__(self, key: str) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class Transaction(Protocol):
    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class DriverConnection(Protocol):
    async def fetchrow(self, query: str, *args: Any) -> Record | None: ...

    async def fetch(self, query: str, *args: Any) -> Sequence[Record]: ...

    async def execute(self, query: str, *args: Any) -> str: ...

    def transaction(self) -> Transaction: ...

    def is_in_transaction(self) -> bool: ...
