"""One wrapper that turns expected failures into a one-line reason and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])
err_console = Console(stderr=True)


def exits_cleanly(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runyard.errors import RunyardError

        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except RunyardError as exc:
            err_console.print(f"[red]error:[/red] {exc.message} ({exc.code})")
            raise typer.Exit(1) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            err_console.print(f"[red]error:[/red] settings: {first.get('msg')}")
            raise typer.Exit(2) from None
        except (OSError, ValueError) as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
