"""OpenAPI helpers: every route lists the error statuses it can answer, with the error body."""

from __future__ import annotations

from typing import Any

from runyard.errors import ErrorBody

_DESCRIPTIONS = {
    400: "Malformed request (or `team_required`).",
    401: "Missing, invalid, expired or revoked credential.",
    403: "Credential kind or role not allowed (or `not_a_member`).",
    404: "Not found (another team's ids look the same).",
    409: "Conflict.",
    410: "Gone (past retention).",
    412: "Precondition failed: the object already exists.",
    413: "Too large.",
    416: "Range not satisfiable.",
    422: "Invalid content.",
    429: "Too many requests.",
    503: "Not ready.",
    507: "Insufficient storage.",
}
AUTH_ERRORS = (400, 401, 403, 422, 503)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the given statuses plus the authentication ones."""
    wanted = sorted(set(statuses) | set(AUTH_ERRORS))
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS.get(s, "Error.")} for s in wanted}


def public_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an unauthenticated route."""
    wanted = sorted(set(statuses) | {400, 422, 503})
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS.get(s, "Error.")} for s in wanted}
