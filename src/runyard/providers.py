"""Route dependencies on the server's shared objects, without naming the container.

``services.py`` (the composition root) builds one ``Services`` per app and puts it on
``app.state.services``; it imports every domain. A route that named it would make each domain's
endpoints depend on all the others (a circle through the container). Instead a route asks for
one object by the container's field name and its type, read at request time:

    TransitionsDep = Annotated[TaskTransitions, Depends(provider("transitions", TaskTransitions))]

``tests/unit/server/test_server_providers.py`` checks every name against ``Services``' fields.

Below: the aliases every route uses (``runyard.deps`` re-exports them with the callers'). Every
route that touches the database gets the request's one ``UnitOfWork`` (``UnitDep``, or its
session as ``SessionDep``): it commits once, after the route returns and before the answer is
sent, and runs its after-commit hooks; an error rolls it back (or, for an error raised with
``commit_first=True``, commits and then refuses).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork
from runyard.ratelimit import RateLimiter
from runyard.settings import Settings
from runyard.storage.base import Storage

T = TypeVar("T")

#: every (field name, type) asked for, for the test that checks them against ``Services``
PROVIDED: dict[str, Any] = {}


def provided(connection: HTTPConnection, name: str, kind: type[T]) -> T:
    """The container's ``name`` for a request or a WebSocket (``kind`` only types it)."""
    return cast(T, getattr(connection.app.state.services, name))


def provider(name: str, kind: type[T]) -> Callable[[HTTPConnection], T]:
    """A dependency answering the container's ``name``."""
    PROVIDED[name] = kind

    def get(connection: HTTPConnection) -> T:
        return provided(connection, name, kind)

    get.__name__ = f"get_{name}"
    return get


SettingsDep = Annotated[Settings, Depends(provider("settings", Settings))]
ClockDep = Annotated[Clock, Depends(provider("clock", Clock))]
StorageDep = Annotated[Storage, Depends(provider("storage", Storage))]
DatabaseDep = Annotated[Database, Depends(provider("db", Database))]
RateLimiterDep = Annotated[RateLimiter, Depends(provider("rate_limiter", RateLimiter))]


async def get_unit(db: DatabaseDep) -> AsyncIterator[UnitOfWork]:
    async with db.unit() as uow:
        yield uow


# scope="function": committed when the route returns, before the response is sent.
UnitDep = Annotated[UnitOfWork, Depends(get_unit, scope="function")]


async def get_session(uow: UnitDep) -> AsyncSession:
    return uow.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
