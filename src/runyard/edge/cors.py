"""Starlette's CORS middleware, with refused preflights in the contract's JSON error shape."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response


class JsonCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-")}
        refused = bytes(response.body).decode(errors="replace")
        return JSONResponse(
            {
                "error_message": f"{refused}: this origin, method or header is not allowed "
                "(RUNYARD_HTTP_CORS_ALLOWED_ORIGINS lists the allowed origins).",
                "error_code": "cors_refused",
                "request_id": "",
            },
            status_code=400,
            headers=headers,
        )
