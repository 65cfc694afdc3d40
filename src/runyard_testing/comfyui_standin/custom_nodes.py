"""Custom nodes, loaded as ComfyUI loads them (``nodes.init_external_custom_nodes`` and
``load_custom_node``): at start, every entry of ``custom_nodes/`` except ``__pycache__``, files
that are not ``.py`` and names ending in ``.disabled`` is imported (a folder through its
``__init__.py``), and each class of its ``NODE_CLASS_MAPPINGS`` becomes a node class, unless a
built-in node has that name. A module that fails to import is logged and skipped ("Cannot
import … module for custom nodes"). Nothing is reloaded while running: new packages need a
restart, as on the real server.

A class is read the ComfyUI way: ``INPUT_TYPES()`` (``{"required": {name: (TYPE, {options})}}``,
a list as TYPE being a combo), ``RETURN_TYPES``, ``FUNCTION``, ``OUTPUT_NODE``, ``CATEGORY``; the
function gets the inputs as keywords and returns a tuple (or ``{"ui": …, "result": (…)}``).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from runyard_testing.comfyui_standin.spec import InputSpec, NodeContext, NodeResult, NodeSpec

log = logging.getLogger(__name__)


def _input(value: Any) -> InputSpec:
    kind, config = (value[0], value[1] if len(value) > 1 else {}) if value else ("*", {})
    if isinstance(kind, list | tuple):
        return InputSpec("COMBO", dict(config), choices=tuple(str(c) for c in kind))
    return InputSpec(str(kind), dict(config))


def _spec(class_type: str, cls: Any) -> NodeSpec:
    types = cls.INPUT_TYPES()
    function = str(cls.FUNCTION)

    def run(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
        result = getattr(cls(), function)(**inputs)
        if isinstance(result, dict):
            return NodeResult(tuple(result.get("result", ())), ui=result.get("ui"))
        return NodeResult(tuple(result))

    return NodeSpec(
        class_type=class_type,
        required={n: _input(v) for n, v in types.get("required", {}).items()},
        optional={n: _input(v) for n, v in types.get("optional", {}).items()},
        return_types=tuple(getattr(cls, "RETURN_TYPES", ())),
        run=run,
        output_node=bool(getattr(cls, "OUTPUT_NODE", False)),
        category=str(getattr(cls, "CATEGORY", "custom")),
    )


def load_custom_nodes(folder: Path, builtin: set[str]) -> dict[str, NodeSpec]:
    found: dict[str, NodeSpec] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if path.name == "__pycache__" or path.name.endswith(".disabled"):
            continue
        if path.is_file() and path.suffix != ".py":
            continue
        init = path / "__init__.py" if path.is_dir() else path
        name = f"custom_nodes.{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(
                name, init, submodule_search_locations=[str(path)] if path.is_dir() else None
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
            if mappings is None:
                log.warning("Skip %s module for custom nodes: no NODE_CLASS_MAPPINGS", path)
                continue
            for class_type, cls in mappings.items():
                if class_type not in builtin:
                    found[class_type] = _spec(class_type, cls)
        except Exception as exc:  # as ComfyUI: a broken custom node does not stop the server
            log.warning("Cannot import %s module for custom nodes: %s", path, exc)
    return found
