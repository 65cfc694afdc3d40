"""The one error base class and the one handler that renders every error.

Business code raises ``RunyardError`` subclasses (never ``HTTPException``); the handler turns them
into the contract's body ``{"error_message", "error_code", "request_id"}`` (plus ``errors[]`` for
parameter validation) and the matching status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from runyard.error_codes import ErrorCode

log = logging.getLogger("runyard.errors")


class RunyardError(Exception):
    status = 400
    code: ErrorCode = "bad_request"
    message = "The request is malformed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        commit_first: bool = False,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors
        self.headers = headers
        # The unit of work commits what was done (e.g. an upload marked expired), then refuses.
        self.commit_first = commit_first
        super().__init__(self.message)


class BadRequest(RunyardError):
    status, code = 400, "bad_request"


class Unauthenticated(RunyardError):
    status, code = 401, "unauthenticated"
    message = "Send `Authorization: Bearer <token>` with a valid session token or API key."


class Forbidden(RunyardError):
    status, code = 403, "forbidden"
    message = "Your credential or role does not allow this."


class NotFound(RunyardError):
    status, code = 404, "not_found"
    message = "Not found."


class Conflict(RunyardError):
    status, code = 409, "conflict"


class Gone(RunyardError):
    status, code = 410, "gone"


class TooLarge(RunyardError):
    status, code = 413, "too_large"


class Unprocessable(RunyardError):
    status, code = 422, "invalid_content"


class TooManyRequests(RunyardError):
    status, code = 429, "rate_limited"


class InsufficientStorage(RunyardError):
    status, code = 507, "insufficient_storage"


class NotReady(RunyardError):
    status, code = 503, "not_ready"


class ErrorItem(BaseModel):
    parameter: str
    error_code: str
    error_message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error_message: str
    error_code: str
    request_id: str
    errors: list[ErrorItem] | None = None


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "error_message": message,
        "error_code": code,
        "request_id": request_id_of(request),
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def on_runyard_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RunyardError)
        return error_response(request, exc.status, exc.code, exc.message, exc.errors, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if any(
            e.get("type") == "json_invalid"
            or (tuple(e.get("loc", ())) == ("body",) and e.get("type") == "model_attributes_type")
            for e in exc.errors()
        ):
            return error_response(
                request,
                400,
                "malformed_json",
                "The request body must be a JSON object sent with Content-Type: application/json.",
            )
        return error_response(request, 422, "invalid_request", _describe_validation(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        detail = exc.detail if isinstance(exc.detail, str) else "Request refused."
        if exc.status_code == 404:
            detail = "No such endpoint. See /openapi.json for the API."
        return error_response(
            request,
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            detail,
            headers=getattr(exc, "headers", None),
        )

    async def on_database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "database unavailable request_id=%s: %s", request_id_of(request), type(exc).__name__
        )
        return error_response(
            request,
            503,
            "database_unavailable",
            "The database is not reachable right now; retry in a few seconds.",
            headers={"Retry-After": "5"},
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error request_id=%s", request_id_of(request))
        return error_response(
            request,
            500,
            "internal_error",
            "Something went wrong on the server; retry, and report the request_id if it persists.",
        )

    app.add_exception_handler(RunyardError, on_runyard_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    from sqlalchemy.exc import InterfaceError, OperationalError

    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(InterfaceError, on_database_down)
    app.add_exception_handler(Exception, on_unexpected)
