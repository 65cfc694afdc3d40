"""A PEP 503 simple package index on a real HTTP server, holding tiny wheels written here by hand
(a wheel is a zip with metadata): bundle requirements are tested without the network."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["serve_index", "wheel"]


def wheel(folder: Path, name: str, version: str) -> Path:
    """``<name>-<version>-py3-none-any.whl``: a module ``name`` with ``VALUE = version``."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    target = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return target


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@contextlib.contextmanager
def serve_index(root: Path, name: str, versions: list[str]) -> Iterator[str]:
    """Serve ``name`` in ``versions``; yields the index URL (``…/simple``)."""
    project = root / "simple" / name
    project.mkdir(parents=True)
    links = [wheel(project, name, version).name for version in versions]
    (project / "index.html").write_text(
        "<html><body>" + "".join(f'<a href="{n}">{n}</a>' for n in links) + "</body></html>"
    )
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
