"""Every ``error_code`` the server answers, in one registry.

``RunyardError(code=...)`` is typed with ``ErrorCode``, so mypy refuses a code that is not
listed here (no more drifted spellings); a test checks the contract's named codes are all here
and that every listed code is used. Renamed in the queue-core rebuild (the contract names
neither): ``invalid_credential`` → ``invalid_credentials`` (an unknown API key, like a wrong
password) and ``invalid_part_number`` → ``invalid_part_numbers``.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorCode = Literal[
    # the contract's named codes (section 6)
    "file_too_large",
    "invalid_parameters",
    "file_not_found",
    "file_not_uploaded",
    "file_expired",
    "file_type_not_accepted",
    "workflow_not_found",
    "workflow_disabled",
    "idempotency_key_reused",
    "task_not_found",
    "preview_not_found",
    "outputs_expired",
    "input_expired",
    "size_mismatch",
    "team_required",
    "not_a_member",
    "credential_kind_not_allowed",
    "agent_lost",
    "timed_out",
    # generic, by status
    "bad_request",
    "malformed_json",
    "invalid_request",
    "unauthenticated",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "gone",
    "too_large",
    "invalid_content",
    "rate_limited",
    "internal_error",
    "not_ready",
    "database_unavailable",
    "storage_unavailable",
    "insufficient_storage",
    "http_error",
    # authentication and accounts
    "invalid_credentials",
    "credential_revoked",
    "credential_expired",
    "credential_not_found",
    "invalid_token",
    "invalid_refresh_token",
    "refresh_token_reused",
    "role_insufficient",
    "invalid_email",
    "weak_password",
    "user_exists",
    "user_not_found",
    "team_not_found",
    "already_member",
    "member_not_found",
    "owner_immutable",
    "invalid_kind",
    # files, uploads and the embedded store
    "invalid_file_name",
    "invalid_file_size",
    "invalid_content_type",
    "upload_quota_exceeded",
    "too_many_open_uploads",
    "upload_not_found",
    "upload_completed",
    "upload_aborted",
    "upload_expired",
    "invalid_part_numbers",
    "parts_missing",
    "etag_mismatch",
    "invalid_parts",
    "object_exists",
    "object_not_found",
    "invalid_key",
    "invalid_range",
    "range_not_satisfiable",
    "signature_mismatch",
    "signature_missing",
    "signed_header_missing",
    "url_expired",
    "content_length_mismatch",
    "incomplete_body",
    # workflows and runs
    "invalid_workflow",
    "comfyui_requirements_missing",
    "workflow_too_deep",
    "workflow_too_large",
    "too_many_nodes",
    "too_many_parameters",
    "queue_full",
    # the HTTP edge and event streams
    "invalid_event_id",
    "headers_too_large",
    "url_too_long",
    "too_many_query_parameters",
    "malformed_request",
    "cors_refused",
    # per-parameter codes (``errors[].error_code`` of invalid_parameters)
    "missing_required",
    "unknown_parameter",
    "wrong_type",
    "not_integer",
    "out_of_range",
    "too_long",
    "not_in_options",
    # webhooks
    "webhook_not_found",
    "delivery_not_found",
    "webhook_url_not_allowed",
    "webhook_disabled",
    # device pairing (RFC 8628 names where it has one)
    "slow_down",
    "expired_token",
    "access_denied",
    "invalid_grant",
    "pairing_not_found",
    "pairing_decided",
    # agent protocol
    "protocol_error",
    "stale_attempt",
]

ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))
