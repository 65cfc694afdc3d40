"""Error bodies map to the exception tree with their code, message, request id and errors."""

from __future__ import annotations

import httpx
import pytest

from runyard_client import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FileTooLarge,
    GoneError,
    IdempotencyKeyReused,
    InvalidParameters,
    NotFoundError,
    OutputsExpired,
    PermissionDeniedError,
    RateLimited,
    ServerError,
    TaskFailed,
    TaskInfo,
)
from runyard_client._errors import error_from_response
from tests.unit.client.client_mocks import error


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "team_required", BadRequestError),
        (401, "unauthenticated", AuthenticationError),
        (403, "not_a_member", PermissionDeniedError),
        (404, "task_not_found", NotFoundError),
        (409, "conflict", ConflictError),
        (409, "idempotency_key_reused", IdempotencyKeyReused),
        (410, "gone", GoneError),
        (410, "outputs_expired", OutputsExpired),
        (413, "file_too_large", FileTooLarge),
        (422, "invalid_parameters", InvalidParameters),
        (429, "rate_limited", RateLimited),
        (500, "internal_error", ServerError),
        (503, "not_ready", ServerError),
        (418, "teapot", APIError),
    ],
)
def test_status_and_code_pick_the_class(status: int, code: str, cls: type[APIError]) -> None:
    exc = error_from_response(error(status, code, "what went wrong"))
    assert type(exc) is cls
    assert (exc.status_code, exc.error_code, exc.error_message, exc.request_id) == (
        status,
        code,
        "what went wrong",
        "req-1",
    )
    assert "what went wrong" in str(exc) and "req-1" in str(exc)


def test_invalid_parameters_carry_the_errors() -> None:
    items = [{"parameter": "strength", "error_code": "out_of_range", "error_message": "<= 1"}]
    exc = error_from_response(error(422, "invalid_parameters", errors=items))
    assert isinstance(exc, InvalidParameters) and exc.errors == items


def test_a_body_that_is_not_the_contract_still_maps() -> None:
    exc = error_from_response(
        httpx.Response(502, text="<html>bad gateway</html>", headers={"x-request-id": "edge-7"})
    )
    assert isinstance(exc, ServerError) and exc.error_code == "" and exc.request_id == "edge-7"
    assert "502" in exc.error_message


def test_rate_limited_reads_retry_after() -> None:
    response = error(429, "rate_limited")
    response.headers["Retry-After"] = "7"
    exc = error_from_response(response)
    assert isinstance(exc, RateLimited) and exc.retry_after == 7.0


def test_task_failed_describes_the_task() -> None:
    info = TaskInfo(id="t-1", task_status="failed", task_error="boom", task_error_code="agent_lost")
    exc = TaskFailed(info)
    assert exc.task is info and exc.error_code == "agent_lost"
    assert "t-1 failed: boom (agent_lost)" in str(exc)
