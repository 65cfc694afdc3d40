"""Routes ask the container for one object by field name and type (``runyard/providers.py``):
each name asked for is a field of ``Services`` whose declared type is the one asked for."""

from __future__ import annotations

import typing

from runyard import api  # noqa: F401  (imports every route module, so every provider is made)
from runyard.providers import PROVIDED
from runyard.services import Services


def test_every_provided_name_is_a_field_of_the_container_with_that_type() -> None:
    hints = typing.get_type_hints(Services)
    assert {"settings", "clock", "storage", "db", "rate_limiter", "gateway"} <= set(PROVIDED)
    wrong = {
        name: (kind, hints.get(name))
        for name, kind in PROVIDED.items()
        if name not in hints or not _is_or_extends(hints[name], kind)
    }
    assert wrong == {}


def _is_or_extends(declared: object, asked: type) -> bool:
    if declared is asked:
        return True
    if isinstance(declared, type) and isinstance(asked, type):
        # a protocol asked of a concrete field (LiveAgents of the Gateway) is checked by mypy
        return getattr(asked, "_is_protocol", False) or issubclass(declared, asked)
    return False
