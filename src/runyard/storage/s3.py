"""``Storage`` on any S3-compatible store (AWS S3, MinIO, Cloudflare R2, Ceph RGW).

The server only signs URLs; bytes go straight between clients, agents and the bucket. Signing is
on the presign hot path, so URLs are signed by ``SigV4QuerySigner``: the algorithm of botocore's
``S3SigV4QueryAuth`` (the unit tests check the URLs are byte-identical) without its per-call URL
re-parsing, and with the signing key derived once per day instead of on every call. Everything
that talks to the bucket goes through the boto3 client in a worker thread, so the event loop never
waits on the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from runyard.settings import S3Settings
from runyard.storage.base import (
    CHECKSUM_HEADER,
    CompletedPart,
    InvalidParts,
    ObjectExists,
    ObjectInfo,
    PartInfo,
    PresignedRequest,
    StorageError,
    UploadNotFound,
    attachment_disposition,
    check_key,
    checksum_header,
    safe_content_type,
)

T = TypeVar("T")

_ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


class SigV4QuerySigner:
    """SigV4 query-string signing for S3 (``UNSIGNED-PAYLOAD``), as botocore does it.

    ``credentials`` is a botocore ``Credentials`` object (static or refreshable); it is read on
    every call so rotated keys are picked up.
    """

    def __init__(
        self, credentials: Any, region: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._credentials = credentials
        self._region = region
        self.clock = clock
        self._cached: tuple[str, str, bytes] = ("", "", b"")  # (secret, day, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._cached
        if cached_secret == secret and cached_day == day:
            return key
        key = f"AWS4{secret}".encode()
        for part in (day, self._region, "s3", "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        self._cached = (secret, day, key)
        return key

    def presign(
        self,
        method: str,
        origin: str,
        host: str,
        path: str,
        *,
        expires_in: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Sign ``method origin+path``; ``path`` is already percent-encoded, as sent on the wire.

        ``headers`` (names in any case) are the headers the caller must send; ``host`` is always
        signed. ``params`` are operation parameters (``uploadId``, ``response-content-type``...).
        """
        creds = self._credentials.get_frozen_credentials()
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        day = timestamp[:8]
        scope = f"{day}/{self._region}/s3/aws4_request"
        signed = {"host": host}
        for name, value in (headers or {}).items():
            signed[name.lower()] = " ".join(value.split())
        names = sorted(signed)
        signed_names = ";".join(names)
        query = [(_encode(k), _encode(v)) for k, v in (params or {}).items()]
        auth = [
            ("X-Amz-Algorithm", _ALGORITHM),
            ("X-Amz-Credential", _encode(f"{creds.access_key}/{scope}")),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", _encode(signed_names)),
        ]
        if creds.token:
            auth.append(("X-Amz-Security-Token", _encode(creds.token)))
        query += auth
        canonical = "\n".join(
            [
                method,
                path,
                "&".join(f"{k}={v}" for k, v in sorted(query)),
                "".join(f"{name}:{signed[name]}\n" for name in names),
                signed_names,
                "UNSIGNED-PAYLOAD",
            ]
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"{_ALGORITHM}\n{timestamp}\n{scope}\n{digest}".encode()
        signature = hmac.new(self._signing_key(creds.secret_key, day), to_sign, "sha256")
        query_string = "&".join(f"{k}={v}" for k, v in query)
        return f"{origin}{path}?{query_string}&X-Amz-Signature={signature.hexdigest()}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Storage:
    """``Storage`` on one S3 bucket; URLs use ``public_endpoint`` when clients need another."""

    backend = "s3"

    def __init__(self, settings: S3Settings, *, clock: Callable[[], float] = time.time) -> None:
        if not settings.bucket:
            raise ValueError("S3 storage needs a bucket (RUNYARD_S3_BUCKET)")
        self.bucket = settings.bucket
        session = boto3.session.Session(
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            region_name=settings.region,
        )
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.path_style else "virtual"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=32,
            # Stores other than AWS (R2, older MinIO) refuse the new default checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: Any = session.client("s3", endpoint_url=settings.endpoint, config=config)
        credentials = session.get_credentials()
        if credentials is None:
            raise StorageError(
                "no S3 credentials: set RUNYARD_S3_ACCESS_KEY_ID and RUNYARD_S3_SECRET_ACCESS_KEY "
                "(or the AWS credential chain)"
            )
        self.signer = SigV4QuerySigner(credentials, settings.region, clock=clock)
        public = (
            settings.public_endpoint
            or settings.endpoint
            or f"https://s3.{settings.region}.amazonaws.com"
        )
        url = urlsplit(public)
        hostname = url.hostname or ""
        if ":" in hostname:
            hostname = f"[{hostname}]"
        if url.port is not None and url.port != _DEFAULT_PORTS.get(url.scheme):
            hostname = f"{hostname}:{url.port}"
        base_path = url.path.rstrip("/")
        if settings.path_style:
            self._host, self._prefix = hostname, f"{base_path}/{quote(self.bucket)}/"
        else:
            self._host, self._prefix = f"{self.bucket}.{hostname}", f"{base_path}/"
        self._origin = f"{url.scheme}://{self._host}"

    # signing (CPU only) -----------------------------------------------------------------
    def _presign(
        self,
        method: str,
        key: str,
        expires_in: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        check_key(key)  # the same keys on both backends, so a bug shows up in either
        path = self._prefix + quote(key, safe="/~")
        return self.signer.presign(
            method,
            self._origin,
            self._host,
            path,
            expires_in=expires_in,
            params=params,
            headers=headers,
        )

    def presign_put(
        self, key: str, content_length: int, *, expires_in: int, sha256: str | None = None
    ) -> PresignedRequest:
        headers = {"Content-Length": str(content_length), "If-None-Match": "*"}
        if sha256 is not None:
            headers[CHECKSUM_HEADER] = checksum_header(sha256)
        return PresignedRequest(self._presign("PUT", key, expires_in, headers=headers), headers)

    def presign_get(self, key: str, *, expires_in: int, file_name: str, content_type: str) -> str:
        params = {
            "response-content-disposition": attachment_disposition(file_name),
            "response-content-type": safe_content_type(content_type),
        }
        return self._presign("GET", key, expires_in, params=params)

    def presign_part(
        self,
        key: str,
        backend_upload_id: str,
        part_number: int,
        content_length: int,
        *,
        expires_in: int,
    ) -> PresignedRequest:
        headers = {"Content-Length": str(content_length)}
        params = {"partNumber": str(part_number), "uploadId": backend_upload_id}
        return PresignedRequest(
            self._presign("PUT", key, expires_in, params=params, headers=headers), headers
        )

    # bucket calls (in a thread) --------------------------------------------------------
    async def _call(self, operation: str, **kwargs: Any) -> Any:
        func = getattr(self.client, operation)
        try:
            return await anyio.to_thread.run_sync(partial(func, **kwargs))
        except BotoCoreError as exc:
            raise StorageError(f"S3 {operation} failed: {exc}") from exc

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await self._call("head_object", Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _http_status(exc) == 404:
                return None
            raise StorageError(f"S3 head_object failed: {exc}") from exc
        return ObjectInfo(size=int(response["ContentLength"]), etag=response.get("ETag"))

    def _sha256(self, key: str) -> str:
        response = self.client.get_object(Bucket=self.bucket, Key=key)
        digest = hashlib.sha256()
        with contextlib.closing(response["Body"]) as body:
            for chunk in body.iter_chunks(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()

    async def sha256(self, key: str) -> str | None:
        try:
            return await anyio.to_thread.run_sync(self._sha256, key)
        except ClientError as exc:
            if _http_status(exc) == 404 or _error_code(exc) == "NoSuchKey":
                return None
            raise StorageError(f"S3 get_object failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 get_object failed: {exc}") from exc

    async def copy_to(self, key: str, dest: Path) -> bool:
        try:
            await anyio.to_thread.run_sync(self.client.download_file, self.bucket, key, str(dest))
        except ClientError as exc:
            if _http_status(exc) == 404 or _error_code(exc) in ("NoSuchKey", "404"):
                return False
            raise StorageError(f"S3 get_object failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 get_object failed: {exc}") from exc
        return True

    async def delete(self, key: str) -> None:
        try:
            await self._call("delete_object", Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _http_status(exc) != 404:
                raise StorageError(f"S3 delete_object failed: {exc}") from exc

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
                deleted += len(objects) - len(response.get("Errors", []))
        return deleted

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete every object: give a non-empty prefix")
        try:
            return await anyio.to_thread.run_sync(self._delete_prefix, prefix)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 delete of {prefix!r} failed: {exc}") from exc

    # multipart --------------------------------------------------------------------------
    async def create_multipart(self, key: str, content_type: str) -> str:
        try:
            response = await self._call(
                "create_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                ContentType=safe_content_type(content_type),
            )
        except ClientError as exc:
            raise StorageError(f"S3 create_multipart_upload failed: {exc}") from exc
        return str(response["UploadId"])

    def _list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id
        )
        return [
            PartInfo(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"]))
            for page in pages
            for p in page.get("Parts", [])
        ]

    async def list_parts(self, key: str, backend_upload_id: str) -> list[PartInfo]:
        try:
            return await anyio.to_thread.run_sync(self._list_parts, key, backend_upload_id)
        except ClientError as exc:
            if _error_code(exc) == "NoSuchUpload":
                raise UploadNotFound(f"no multipart upload {backend_upload_id!r}") from exc
            raise StorageError(f"S3 list_parts failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 list_parts failed: {exc}") from exc

    async def complete_multipart(
        self, key: str, backend_upload_id: str, parts: list[CompletedPart]
    ) -> ObjectInfo:
        listed = [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]
        try:
            await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=backend_upload_id,
                MultipartUpload={"Parts": listed},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            code = _error_code(exc)
            if _http_status(exc) == 412 or code == "PreconditionFailed":
                raise ObjectExists(f"an object already exists at {key!r}") from exc
            if code == "NoSuchUpload":
                raise UploadNotFound(f"no multipart upload {backend_upload_id!r}") from exc
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"):
                raise InvalidParts(f"S3 refused the parts: {code}") from exc
            raise StorageError(f"S3 complete_multipart_upload failed: {exc}") from exc
        info = await self.head(key)
        if info is None:
            raise StorageError(f"S3 completed {key!r} but the object is not visible")
        return info

    async def abort_multipart(self, key: str, backend_upload_id: str) -> None:
        try:
            await self._call(
                "abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=backend_upload_id
            )
        except ClientError as exc:
            if _error_code(exc) != "NoSuchUpload" and _http_status(exc) != 404:
                raise StorageError(f"S3 abort_multipart_upload failed: {exc}") from exc

    async def check(self) -> None:
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except ClientError as exc:
            raise StorageError(f"bucket {self.bucket!r} is not reachable: {exc}") from exc

    async def close(self) -> None:
        self.client.close()
