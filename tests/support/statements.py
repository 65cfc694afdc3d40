"""Counting the SQL statements a piece of code sends (what a round-trip saving must show)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class Reads:
    """The ``SELECT`` statements sent that read ``table``."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.count = 0

    def __call__(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {self.table}" in statement:
            self.count += 1


@contextmanager
def counting_reads(engine: AsyncEngine, table: str) -> Iterator[Reads]:
    reads = Reads(table)
    event.listen(engine.sync_engine, "before_cursor_execute", reads)
    try:
        yield reads
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", reads)
