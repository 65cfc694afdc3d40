"""uvicorn's HTTP protocols, with the one answer they write themselves in our error shape.

A request the parser cannot take (malformed, or a request line past the parser's own limit, as
with ten thousand query parameters) is refused by uvicorn before the app sees it, with a
plain-text 400; these subclasses write the contract's JSON body instead.
"""

from __future__ import annotations

import json
import uuid

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MESSAGE = (
    "The request could not be parsed: it is malformed, or its request line or headers are too "
    "large. Send a shorter URL (fewer query parameters) or smaller headers."
)


def _body() -> bytes:
    body = {"error_message": MESSAGE, "error_code": "malformed_request"}
    return json.dumps({**body, "request_id": uuid.uuid4().hex}).encode()


def _raw_400(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = _body()
    head = [b"HTTP/1.1 400 Bad Request\r\n"]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [
        b"content-type: application/json\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


class JsonH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(_raw_400(self.server_state.default_headers))
        self.transport.close()


class JsonHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(_raw_400(self.server_state.default_headers))
        self.transport.close()


# httptools comes with uvicorn[standard], a pinned dependency of the server.
HTTP_PROTOCOL = JsonHttpToolsProtocol
