"""A mypy plugin that reads ``File["image/*"]`` as ``pathlib.Path``.

mypy takes a string inside a subscripted annotation for a forward reference, and ``"image/*"`` is
no type; with this plugin (``plugins = ["runyard_agent.mypy_plugin"]`` in the mypy settings) a
``File[...]`` parameter is simply the ``Path`` the function receives.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.plugin import AnalyzeTypeContext, Plugin
from mypy.types import Type

_FILE = "runyard_agent.runtimes.functions.types.File"


def _as_path(ctx: AnalyzeTypeContext) -> Type:
    return ctx.api.named_type("pathlib.Path", [])


class RunyardPlugin(Plugin):
    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        return _as_path if fullname == _FILE else None


def plugin(version: str) -> type[Plugin]:
    return RunyardPlugin
