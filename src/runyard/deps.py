"""``Annotated`` dependency aliases so route signatures read like prose: the shared objects
(``providers.py``: settings, clock, store, database, the request's unit of work) and the callers
(``auth/access.py``: the authenticated ``Principal`` under each policy). Routes of ``auth``
itself import those two directly (``deps`` sits above ``auth``)."""

from __future__ import annotations

from runyard.auth.access import (
    AccountCaller,
    BearerDep,
    DeviceKeyCaller,
    ManageReader,
    ManageWriter,
    MeCaller,
    MultipartCaller,
    RuntimeReader,
    RuntimeWriter,
    TeamAdmin,
    TeamPathAdmin,
    TeamPathMember,
    caller,
)
from runyard.providers import (
    ClockDep,
    DatabaseDep,
    RateLimiterDep,
    SessionDep,
    SettingsDep,
    StorageDep,
    UnitDep,
    get_unit,
)

__all__ = [
    "AccountCaller",
    "BearerDep",
    "ClockDep",
    "DatabaseDep",
    "DeviceKeyCaller",
    "ManageReader",
    "ManageWriter",
    "MeCaller",
    "MultipartCaller",
    "RateLimiterDep",
    "RuntimeReader",
    "RuntimeWriter",
    "SessionDep",
    "SettingsDep",
    "StorageDep",
    "TeamAdmin",
    "TeamPathAdmin",
    "TeamPathMember",
    "UnitDep",
    "caller",
    "get_unit",
]
