"""The MCP endpoint: an ASGI app at ``/mcp`` that authenticates every HTTP request with the
existing key authentication (integration keys only: ``Policy.MCP``), then hands it to the
official SDK's Streamable HTTP session manager.

The manager runs *stateless* with JSON answers: each POST is served on its own, so any server
process behind a load balancer can answer any request (no sticky MCP sessions), and a revoked
key is refused on its next request. The caller is passed to the tools in the request's ASGI
state, which the SDK hands to the handlers as ``ctx.request``. The manager's task group must run
inside the app's lifespan: ``create_app`` enters ``run()`` there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from runyard import __version__
from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy
from runyard.errors import RunyardError, error_response
from runyard.mcp.tools import TOOLS, Caller, list_tools
from runyard.ratelimit import client_address
from runyard.services import Services

log = logging.getLogger("runyard.mcp")
CALLER = "runyard_mcp_caller"
MAX_BODY = 1024 * 1024  # tool arguments are small; files go through presign_upload
MAX_MESSAGE = 500  # characters of an error message: what a caller sent is never echoed whole
MALFORMED = (
    'The body is not a valid MCP JSON-RPC 2.0 message (jsonrpc "2.0", an id that is a '
    "string or integer, a method and its params): see the MCP specification."
)
INSTRUCTIONS = (
    "Runyard runs parameterised workflows on the team's own agents. list_workflows (or the "
    "run_workflow_by_slug description) shows each workflow's parameters; upload file inputs "
    "with presign_upload (then PUT the bytes), run with run_workflow_by_slug, follow with "
    "wait_task, and read outputs with get_task_result."
)


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _plain_errors(send: Send) -> Send:
    """``send`` with the SDK's answers to malformed bodies rewritten: it puts the validator's
    report (internals, and the caller's input at any length) in the JSON-RPC error's message."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = _rewritten(b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _rewritten(body: bytes) -> bytes:
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return body
    message: str = error["message"]
    if "validation error" in message.lower() or "parse error" in message.lower():
        error["message"] = MALFORMED
    else:
        error["message"] = _bounded(message)
    error.pop("data", None)
    return json.dumps(answer, ensure_ascii=False).encode()


def _result(body: dict[str, Any], *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body, ensure_ascii=False))],
        structured_content=body,
        is_error=error,
    )


def _caller(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    caller = request.scope.get("state", {}).get(CALLER) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):  # only reachable if the endpoint was bypassed
        raise RuntimeError("MCP request without an authenticated caller")
    return caller


class McpServer:
    """The SDK's low-level server and its session manager, bound to the services container."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.server: Server[Any] = Server(
            "runyard",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=True,
            json_response=True,
            # Host/Origin checks guard servers that trust ambient credentials (cookies, a
            # localhost port); every request here must carry an sk- key in Authorization.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=MAX_BODY,
        )

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """The session manager's lifetime, for the app's lifespan. Its anyio task group lives in
        a task of its own: a lifespan may be entered and exited by different tasks (test
        fixtures do), which a task group entered directly in it would refuse."""
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold(), name="mcp-session-manager")
        ready = asyncio.create_task(started.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            ready.cancel()
            task.result()  # raises what stopped it
            raise RuntimeError("the MCP session manager stopped at start")
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            async with self.services.db.unit() as uow:
                principal = await authenticate(
                    uow.session,
                    authorization=request.headers.get("authorization"),
                    team_header=None,
                    policy=Policy.MCP,
                    secret_key=self.services.settings.token_secrets,
                    clock=self.services.clock,
                )
        except RunyardError as exc:
            headers = dict(exc.headers or {})
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="runyard"'
            response = error_response(request, exc.status, exc.code, exc.message, headers=headers)
            await response(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = principal
        state[CALLER] = Caller(principal, self.services, client_address(request.client))
        await self.manager.handle_request(scope, receive, _plain_errors(send))

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await list_tools(_caller(ctx)))

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            return _result(
                {"error_code": "not_found", "error_message": f"No tool {params.name[:100]!r}."},
                error=True,
            )
        try:
            return _result(await tool(_caller(ctx), dict(params.arguments or {})))
        except RunyardError as exc:
            body: dict[str, Any] = {"error_code": exc.code, "error_message": _bounded(exc.message)}
            if exc.errors is not None:
                body["errors"] = [
                    {k: _bounded(v) if isinstance(v, str) else v for k, v in e.items()}
                    for e in exc.errors[:100]
                ]
            return _result(body, error=True)
        except Exception:
            log.exception("MCP tool %s failed", params.name)
            return _result(
                {
                    "error_code": "internal_error",
                    "error_message": "Something went wrong on the server; retry.",
                },
                error=True,
            )
