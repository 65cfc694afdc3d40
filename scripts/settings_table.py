"""Print the server settings as a Markdown table, generated from ``runyard.settings``.

    .venv/bin/python scripts/settings_table.py            # print the table
    .venv/bin/python scripts/settings_table.py --write    # refresh it in docs/operating.md

``docs/operating.md`` holds this output between ``<!-- settings:begin -->`` and
``<!-- settings:end -->``; ``tests/unit/docs/test_docs_settings_table.py`` fails when the two
differ, so the documented settings cannot drift from the code.
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from runyard import settings as settings_module

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
OPERATING_MD = Path(__file__).resolve().parent.parent / "docs" / "operating.md"

# Used only for fields that carry no ``description`` in runyard/settings.py.
FALLBACK_DESCRIPTIONS = {
    ("Settings", "environment"): (
        "`prod` refuses a missing, placeholder or short `RUNYARD_SECRET_KEY`; "
        "`runyard dev` runs with `dev`."
    ),
    ("Settings", "log_level"): "Python logging level: DEBUG, INFO, WARNING or ERROR.",
}

KIB = 1024
UNITS = [(KIB**4, "TiB"), (KIB**3, "GiB"), (KIB**2, "MiB")]
DURATIONS = [(86_400, "d"), (3_600, "h")]


def env_prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix", ""))


def settings_classes() -> list[type[BaseSettings]]:
    """The root ``Settings`` first, then each nested settings class in field order."""
    root = settings_module.Settings
    nested = [
        f.annotation
        for f in root.model_fields.values()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseSettings)
    ]
    return [root, *nested]


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        name = " or ".join(type_name(a) for a in present)
        return f"{name}, optional" if len(present) < len(args) else name
    if annotation is Path:
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " / ".join(f"`{m.value}`" for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _is_seconds(field: FieldInfo) -> bool:
    text = (field.description or "").lower()
    return "second" in text or "(s)" in text


def default_text(field: FieldInfo) -> str:
    value = field.default
    if value is PydanticUndefined:
        return "(required)"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, int):
        text = f"`{value}`"
        for size, unit in UNITS:
            if value >= size and value % size == 0 and not _is_seconds(field):
                return f"{text} ({value // size} {unit})"
        if _is_seconds(field):
            for size, unit in DURATIONS:
                if value >= size and value % size == 0:
                    return f"{text} ({value // size} {unit})"
        return text
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def description_text(cls: type[BaseSettings], name: str, field: FieldInfo) -> str:
    text = field.description or FALLBACK_DESCRIPTIONS.get((cls.__name__, name), "")
    for rule in field.metadata:
        bound = getattr(rule, "ge", None)
        if bound is not None:
            text += f" At least `{bound}`."
    return text.replace("|", "\\|").strip()


def rows() -> list[tuple[str, str, str, str]]:
    found = []
    for cls in settings_classes():
        prefix = env_prefix(cls)
        for name, field in cls.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
                continue  # a nested class: its own fields are listed with its own prefix
            found.append(
                (
                    f"`{prefix}{name.upper()}`",
                    type_name(field.annotation),
                    default_text(field),
                    description_text(cls, name, field),
                )
            )
    return found


def render() -> str:
    lines = [
        "| Environment variable | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    lines += [f"| {env} | {kind} | {default} | {text} |" for env, kind, default, text in rows()]
    return "\n".join(lines) + "\n"


def replace_between_markers(document: str, table: str) -> str:
    start = document.index(BEGIN) + len(BEGIN)
    end = document.index(END)
    return document[:start] + "\n" + table + document[end:]


def table_in(document: str) -> str:
    start = document.index(BEGIN) + len(BEGIN)
    end = document.index(END)
    return document[start:end].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help=f"replace the table in {OPERATING_MD.name}"
    )
    args = parser.parse_args(argv)
    table = render()
    if args.write:
        OPERATING_MD.write_text(replace_between_markers(OPERATING_MD.read_text(), table))
        print(f"updated {OPERATING_MD}")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
