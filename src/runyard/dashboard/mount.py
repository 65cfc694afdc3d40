"""``mount_dashboard(app)``: ``/`` answers the dashboard's page, ``/ui/...`` its assets.

The files are package data (``runyard/dashboard/static``), found through ``importlib.resources``
so they work from a wheel as from a checkout. Pages are routed in the URL's fragment
(``/#/tasks/...``), so the server needs no route per page."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC_PACKAGE = "runyard.dashboard"
ASSETS_URL = "/ui"
PAIR_URL = "/pair"


def static_dir() -> Path:
    """The static folder on disk (setuptools installs package data as plain files)."""
    with as_file(files(STATIC_PACKAGE) / "static") as path:
        return Path(path)


class Assets(StaticFiles):
    """Static files that the browser revalidates (ETag) before each use: the modules of one
    release never mix with a cached module of the previous one."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_dashboard(app: FastAPI) -> None:
    root = static_dir()
    index = (root / "index.html").read_text(encoding="utf-8")
    app.mount(ASSETS_URL, Assets(directory=root), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        # no-cache: a new release's page is fetched at once; assets are revalidated by ETag.
        return HTMLResponse(index, headers={"Cache-Control": "no-cache"})

    @app.get(PAIR_URL, include_in_schema=False)
    async def pair() -> HTMLResponse:
        """The address a device shows (``/pair?user_code=…``): the same page, opened on the
        pairing form."""
        return HTMLResponse(index, headers={"Cache-Control": "no-cache"})
