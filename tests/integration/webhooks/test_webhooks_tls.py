"""The pinned transport over real TLS: it connects to the checked address but keeps the
hostname for SNI and certificate verification (a certificate for ``localhost`` verifies when
``https://localhost`` is pinned to 127.0.0.1, and does not for ``https://127.0.0.1``)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from runyard.settings import WebhookSettings
from runyard.webhooks.outbound import AddressPolicy, AddressRefused, PinnedTransport

seen: list[tuple[str | None, str]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen.append((self.headers.get("Host"), self.client_address[0]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), cert
    finally:
        server.shutdown()
        server.server_close()


async def test_pinned_https_keeps_the_hostname_for_sni_and_verification(
    tls_server: tuple[int, Path],
) -> None:
    port, cert = tls_server
    trust = ssl.create_default_context(cafile=str(cert))
    policy = AddressPolicy(WebhookSettings(allow_private=True))
    async with httpx.AsyncClient(transport=PinnedTransport(policy, verify=trust)) as client:
        r = await client.post(f"https://localhost:{port}/hook", content=b"{}")
        assert r.status_code == 204
        assert seen[-1] == (f"localhost:{port}", "127.0.0.1")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|match"):
            await client.post(f"https://127.0.0.1:{port}/hook", content=b"{}")
    strict = AddressPolicy(WebhookSettings())
    async with httpx.AsyncClient(transport=PinnedTransport(strict, verify=trust)) as client:
        with pytest.raises(AddressRefused, match="localhost is not an allowed webhook target"):
            await client.post(f"https://localhost:{port}/hook", content=b"{}")
