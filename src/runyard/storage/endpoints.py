"""The embedded store's HTTP face: ``PUT``/``GET``/``HEAD /storage/{key}`` on signed URLs.

These routes answer what S3 answers for the same mistakes (403 for a missing or different signed
header, a wrong length, an expired or tampered URL; 412 instead of an overwrite; 206/416 for
ranges), with the contract's JSON error body. Downloads are always attachments with ``nosniff``
and a sandboxing CSP: an uploaded HTML file must never run on the API's origin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable

from runyard.errors import (
    BadRequest,
    ErrorBody,
    Forbidden,
    InsufficientStorage,
    NotFound,
    RunyardError,
)
from runyard.storage.base import (
    CHECKSUM_HEADER,
    ChecksumMismatch,
    ObjectExists,
    Storage,
    UploadNotFound,
    check_key,
    hex_of_checksum,
)
from runyard.storage.bodies import BodyLengthMismatch
from runyard.storage.local import InsufficientSpace, LocalStorage
from runyard.storage.parts import etag_of
from runyard.storage.signing import EXPIRES, SIGNATURE, SIGNED_HEADERS, SignatureError

router = APIRouter(tags=["storage"])

#: Types served as themselves from the server's origin: none can run there. Everything else
#: (JavaScript, HTML, SVG, XML, CSS, WebAssembly…) is served as application/octet-stream: under
#: ``nosniff`` a browser refuses to run it as a script or style, even from a page of this origin
#: whose policy allows ``script-src 'self'`` (the dashboard's). The file name is kept.
_INERT_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_INERT_TYPES = {
    "application/octet-stream",
    "application/json",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/x-ndjson",
    "application/safetensors",
    "text/plain",
    "text/csv",
    "text/tab-separated-values",
}


def served_content_type(declared: str | None) -> str:
    """The type a download from the embedded store is served with (see ``_INERT_TYPES``)."""
    if not declared:
        return "application/octet-stream"
    essence = declared.split(";", 1)[0].strip().lower()
    inert = essence in _INERT_TYPES or (
        essence.startswith(_INERT_PREFIXES) and not essence.endswith(("+xml", "/svg"))
    )
    return declared if inert else "application/octet-stream"


_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-transform",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Malformed key, part number or Range header; a body whose sha256 is not the "
        "signed `x-amz-checksum-sha256` (`checksum_mismatch`, nothing kept).",
        403: "Missing or different signed header, wrong length, expired or tampered URL.",
        404: "No such object or multipart upload (or the server does not use the embedded store).",
        412: "An object already exists at this key; nothing was overwritten.",
        416: "The Range starts beyond the end of the object.",
        507: "Not enough free disk to accept the body.",
    }
    return {s: {"model": ErrorBody, "description": described[s]} for s in statuses}


class _Download(FileResponse):
    chunk_size = 1024 * 1024  # a thread hop per MiB rather than per 64 KiB


def _store(request: Request) -> LocalStorage:
    store: Storage = request.app.state.services.storage  # no deps: storage sits below it
    if not isinstance(store, LocalStorage):
        raise NotFound("This server does not use the embedded object store.", code="not_found")
    return store


def _verified(request: Request, store: LocalStorage, method: str, key: str) -> dict[str, str]:
    """The query parameters once the signature holds; raises the matching 400/403."""
    try:
        check_key(key)
    except ValueError:
        raise BadRequest("The object key is not valid.", code="invalid_key") from None
    items = request.query_params.multi_items()
    query = dict(items)
    if len(query) != len(items):
        raise Forbidden(
            "A query parameter is repeated: use the URL as given.", code="signature_mismatch"
        )
    try:
        store.signer.verify(method, key, query, request.headers)
    except SignatureError as exc:
        raise Forbidden(exc.message, code=exc.code) from None
    return query


# Declared for the OpenAPI description only: the signature check reads the raw query and headers.
Expires = Annotated[str | None, Query(alias=EXPIRES, description="Expiry (Unix seconds).")]
Signature = Annotated[str | None, Query(alias=SIGNATURE, description="HMAC of the request.")]
SignedHeaders = Annotated[
    str | None, Query(alias=SIGNED_HEADERS, description="Headers covered by the signature.")
]


@router.put(
    "/storage/{key:path}",
    summary="Upload an object or a multipart part through a signed URL",
    operation_id="storage_put_object",
    response_class=Response,
    include_in_schema=True,
    responses={
        200: {"description": "Stored.", "headers": {"ETag": {"schema": {"type": "string"}}}},
        **_errors(400, 403, 404, 412, 507),
    },
)
async def put_object(
    key: str,
    request: Request,
    expires: Expires = None,
    signature: Signature = None,
    signed_headers: SignedHeaders = None,
    upload_id: Annotated[str | None, Query(alias="uploadId")] = None,
    part_number: Annotated[str | None, Query(alias="partNumber")] = None,
    # Content-Length is a transport header (read from the request, never a parameter a client
    # could send as text); If-None-Match is documented because the signature covers it.
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    store = _store(request)
    query = _verified(request, store, "PUT", key)
    signed = query.get(SIGNED_HEADERS, "").split(";")
    is_part = "uploadId" in query
    if "content-length" not in signed or (not is_part and "if-none-match" not in signed):
        raise Forbidden("This URL does not authorise an upload.", code="signature_mismatch")
    length = int(request.headers["content-length"])  # signed, so present and what we issued
    sha256 = None
    if CHECKSUM_HEADER in signed:  # signed, so present and what we issued
        sha256 = hex_of_checksum(request.headers[CHECKSUM_HEADER])
        if sha256 is None:
            raise BadRequest(
                f"{CHECKSUM_HEADER} must be the base64 of a sha256 digest.", code="invalid_request"
            )
    try:
        if is_part:
            number = query.get("partNumber", "")
            if not number.isdigit():
                raise BadRequest("partNumber must be a whole number.", code="invalid_part_numbers")
            info = await store.receive_part(
                key, query["uploadId"], int(number), length, request.stream()
            )
        else:
            info = await store.receive_object(key, length, request.stream(), sha256)
    except ObjectExists:
        raise RunyardError(
            "An object already exists at this key; it is never overwritten. Request a new upload.",
            code="object_exists",
            status=412,
        ) from None
    except UploadNotFound:
        raise NotFound(
            "This multipart upload does not exist any more (completed, aborted or expired).",
            code="upload_not_found",
        ) from None
    except InsufficientSpace:
        raise InsufficientStorage(
            "The server's disk is too full to accept this file; retry later or ask the operator "
            "to free space.",
            code="insufficient_storage",
        ) from None
    except ChecksumMismatch:
        raise BadRequest(
            "The body's sha256 is not the one this URL was signed for; nothing was kept. "
            "Upload the file you described, or presign again with its real sha256.",
            code="checksum_mismatch",
        ) from None
    except BodyLengthMismatch as exc:
        raise Forbidden(
            f"{exc} Send exactly Content-Length bytes.", code="content_length_mismatch"
        ) from None
    except ClientDisconnect:
        raise BadRequest("The upload was interrupted.", code="incomplete_body") from None
    return Response(status_code=200, headers={"ETag": info.etag or ""})


async def _download(request: Request, key: str) -> Response:
    store = _store(request)
    # HEAD is accepted on a GET URL (clients probe the size); S3 would want a HEAD signature.
    query = _verified(request, store, "GET", key)
    st = await store.stat_object(key)
    if st is None:
        raise NotFound("No object at this key (it may have expired).", code="object_not_found")
    range_header = request.headers.get("range")
    if range_header is not None:
        # Validated here so a bad Range gets the contract's JSON body, not FileResponse's text.
        try:
            _Download._parse_range_header(range_header, st.st_size)
        except RangeNotSatisfiable:
            raise RunyardError(
                f"The object has {st.st_size} bytes; the Range starts beyond its end.",
                code="range_not_satisfiable",
                status=416,
                headers={"Content-Range": f"bytes */{st.st_size}"},
            ) from None
        except MalformedRangeHeader as exc:
            raise BadRequest(f"Invalid Range header: {exc.content}", code="invalid_range") from None
    disposition = query.get("response-content-disposition", "")
    if not disposition.startswith("attachment"):
        disposition = "attachment"
    # FileResponse opens by path after this stat: safe, as an object is only ever deleted,
    # never replaced.
    return _Download(
        store.path_of(key),
        stat_result=st,
        media_type=served_content_type(query.get("response-content-type")),
        headers={**_DOWNLOAD_HEADERS, "Content-Disposition": disposition, "ETag": etag_of(st)},
    )


_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The object.", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range.", "content": {"application/octet-stream": {}}},
    **_errors(400, 403, 404, 416),
}
ResponseContentDisposition = Annotated[
    str | None, Query(alias="response-content-disposition", description="Signed.")
]
ResponseContentType = Annotated[
    str | None, Query(alias="response-content-type", description="Signed.")
]
RangeHeader = Annotated[str | None, Header(alias="range", description="bytes=START-END")]


@router.get(
    "/storage/{key:path}",
    summary="Download an object through a signed URL",
    operation_id="storage_get_object",
    response_class=Response,
    include_in_schema=True,
    responses=_DOWNLOAD_RESPONSES,
)
async def get_object(
    key: str,
    request: Request,
    expires: Expires = None,
    signature: Signature = None,
    disposition: ResponseContentDisposition = None,
    content_type: ResponseContentType = None,
    range_: RangeHeader = None,
) -> Response:
    return await _download(request, key)


@router.head(
    "/storage/{key:path}",
    summary="Size and headers of an object through a signed GET URL",
    operation_id="storage_head_object",
    response_class=Response,
    include_in_schema=True,
    responses=_DOWNLOAD_RESPONSES,
)
async def head_object(
    key: str,
    request: Request,
    expires: Expires = None,
    signature: Signature = None,
    disposition: ResponseContentDisposition = None,
    content_type: ResponseContentType = None,
    range_: RangeHeader = None,
) -> Response:
    return await _download(request, key)
