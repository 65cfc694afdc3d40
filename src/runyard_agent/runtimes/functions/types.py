"""The markers a workflow function's signature is written with: ``File`` and ``Param``.

``File["image/*"]`` annotates a file parameter (the function receives the local ``Path`` of the
downloaded input); ``Annotated[int, Param(ge=16, le=4096)]`` adds bounds, a label or a
description to any parameter. Type checkers read ``File[...]`` as ``Path`` through the mypy
plugin ``runyard_agent.mypy_plugin``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

__all__ = ["File", "FileSpec", "Param"]


@dataclass(frozen=True)
class FileSpec:
    """What a file parameter accepts: MIME types or patterns (``image/*``); empty: anything."""

    accept: tuple[str, ...] = ()


_Accept = TypeVar("_Accept")


if TYPE_CHECKING:
    # To a type checker a file parameter is a Path (``File`` alone is a Path subclass; with the
    # plugin any ``File[...]`` is ``Path``). ``File[Literal["image/*"]]`` needs no plugin.
    class File(Path, Generic[_Accept]):
        pass

else:

    class File:
        """A file parameter. ``File`` accepts any file, ``File["image/*"]`` (or several types,
        ``File["image/png", "image/jpeg"]``, or ``File[Literal["image/*"]]``, which linters read
        without help) only those; the function receives a ``Path``."""

        def __class_getitem__(cls, accept: Any) -> Any:
            return Annotated[Path, FileSpec(_accepted(accept))]


def _accepted(accept: Any) -> tuple[str, ...]:
    if typing.get_origin(accept) is Literal:
        accept = typing.get_args(accept)
    types = (accept,) if isinstance(accept, str) else tuple(accept)
    for item in types:
        if not isinstance(item, str) or "/" not in item:
            raise TypeError(f'File[{item!r}]: give MIME types or patterns such as File["image/*"]')
    return types


@dataclass(frozen=True)
class Param:
    """Extra facts about a parameter, given with ``Annotated[type, Param(...)]``.

    ``ge``/``le`` bound a number, ``max_length`` a string; ``label`` and ``description`` are
    what the dashboard shows (the description may also come from the docstring's ``Args:``)."""

    ge: float | None = None
    le: float | None = None
    max_length: int | None = None
    label: str | None = None
    description: str | None = None
