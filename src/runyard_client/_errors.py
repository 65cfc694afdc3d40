"""The SDK's exceptions. Catch ``RunyardError`` for everything the SDK raises on purpose.

::

    RunyardError
    ├── TransportError            the server could not be reached (after retries) or timed out
    ├── UploadError               a PUT to a presigned URL (or a multipart upload) failed
    ├── ChecksumMismatch          a download does not have its output's sha256 (not kept)
    ├── TaskFailed                wait(raise_on_failure=True) saw `failed` or `cancelled`
    ├── WaitTimeout               wait(timeout=...) ran out (also a builtin TimeoutError)
    ├── TunnelRefused             a forwarded tunnel connection was refused (the reason said)
    ├── BundleError               deploy: the source cannot be packed or read (``_bundles``)
    └── APIError                  the server answered with an error body
        ├── BadRequestError           400 (e.g. team_required)
        ├── AuthenticationError       401
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        │   └── IdempotencyKeyReused      409 idempotency_key_reused
        ├── GoneError                 410
        │   └── OutputsExpired            410 outputs_expired
        ├── FileTooLarge              413 (also raised before any request: multipart needs a
        │                                  session token)
        ├── InvalidParameters         422 (``.errors`` lists the bad parameters)
        ├── RateLimited               429 (``.retry_after`` in seconds when the server says)
        └── ServerError               5xx

Every ``APIError`` carries ``status_code``, ``error_code``, ``error_message`` and ``request_id``
(quote it when reporting a problem).
"""

from __future__ import annotations

from typing import Any

import httpx


class RunyardError(Exception):
    """Base of every exception the SDK raises on purpose."""


class TransportError(RunyardError):
    """The request never got an answer: connection refused, DNS, TLS or a timeout."""


class TunnelRefused(RunyardError):
    """The server or the agent refused a forwarded tunnel connection (the message says why)."""


class ChecksumMismatch(RunyardError):
    """A downloaded file does not have the sha256 the server reports for it; it was not kept."""


class UploadError(RunyardError):
    """A file could not be stored. ``upload_id`` is set for a multipart upload, which can then be
    resumed with ``client.upload(path, resume_upload_id=...)``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        upload_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.upload_id = upload_id


class TaskFailed(RunyardError):
    """The task ended ``failed`` or ``cancelled``; ``task`` is its final record."""

    def __init__(self, task: Any) -> None:
        status = getattr(task, "task_status", "failed")
        error = getattr(task, "task_error", "") or status
        code = getattr(task, "task_error_code", None)
        super().__init__(
            f"task {getattr(task, 'id', '?')} {status}: {error}" + (f" ({code})" if code else "")
        )
        self.task = task
        self.task_status: str = status
        self.error_code: str | None = code


class WaitTimeout(RunyardError, TimeoutError):
    """``wait(timeout=...)`` elapsed before the task finished; the task keeps running."""


class APIError(RunyardError):
    """The server refused the request with the contract's error body."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_code: str = "",
        request_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.error_message = message
        self.status_code = status_code
        self.error_code = error_code
        self.request_id = request_id
        self.errors: list[dict[str, Any]] = errors or []
        self.response = response

    def __str__(self) -> str:
        rid = f", request_id={self.request_id}" if self.request_id else ""
        return f"{self.error_message} ({self.status_code} {self.error_code}{rid})"


class BadRequestError(APIError):
    """400: malformed request (e.g. ``team_required`` for a session token in several teams)."""


class AuthenticationError(APIError):
    """401: missing, wrong, expired or revoked credential (or a kind the endpoint refuses)."""


class PermissionDeniedError(APIError):
    """403: the credential kind or the caller's role does not allow this."""


class NotFoundError(APIError):
    """404: no such object in this team (another team's id answers the same)."""


class ConflictError(APIError):
    """409: the request conflicts with the current state."""


class IdempotencyKeyReused(ConflictError):
    """409 ``idempotency_key_reused``: the key was used with a different body."""


class GoneError(APIError):
    """410: the object existed but is no longer kept."""


class OutputsExpired(GoneError):
    """410 ``outputs_expired``: task outputs are kept 7 days."""


class FileTooLarge(APIError):
    """413: over the single-upload limit (multipart needs a session token) or the multipart
    limit."""


class InvalidParameters(APIError):
    """422: the content is invalid; for a run, ``errors`` has one entry per bad parameter
    (``parameter``, ``error_code``, ``error_message``)."""


class RateLimited(APIError):
    """429: slow down; ``retry_after`` is the server's hint in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        value = self.response.headers.get("Retry-After") if self.response is not None else None
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class ServerError(APIError):
    """5xx: the server failed or is not ready; retry later and report the request_id."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: FileTooLarge,
    422: InvalidParameters,
    429: RateLimited,
}
_BY_CODE: dict[str, type[APIError]] = {
    "idempotency_key_reused": IdempotencyKeyReused,
    "outputs_expired": OutputsExpired,
}


def error_from_response(response: httpx.Response) -> APIError:
    """Map an error response to the matching exception (any body shape is tolerated)."""
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error_code") or "")
    message = str(body.get("error_message") or "") or (
        f"HTTP {status} {response.reason_phrase}".strip()
    )
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    raw_errors = body.get("errors")
    errors = [e for e in raw_errors if isinstance(e, dict)] if isinstance(raw_errors, list) else []
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    return cls(
        message,
        status_code=status,
        error_code=code,
        request_id=request_id,
        errors=errors,
        response=response,
    )
