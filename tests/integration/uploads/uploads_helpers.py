"""Driving the multipart endpoints from tests: one ``Uploader`` per team and harness.

Embedded-store URLs (``http://testserver/storage/…``) are served by the in-process app, so they
go through the harness's ASGI client; S3 URLs point at the real ministack, so they go through a
real HTTP client."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from runyard.models import MultipartUpload
from runyard.settings import S3Settings
from tests.support.app import Harness, Team

MIB = 1024 * 1024
PART = 5 * MIB
BASE = "/api/v1/uploads/multipart"
BUCKET = "runyard-uploads-test"


def s3_settings(endpoint: str) -> S3Settings:
    return S3Settings(
        endpoint=endpoint,
        bucket=BUCKET,
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",
        path_style=True,
    )


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class Uploader:
    h: Harness
    team: Team
    http: httpx.AsyncClient
    kind: str = "session"
    headers: dict[str, str] = field(default_factory=dict)

    def auth(self) -> dict[str, str]:
        return self.headers or self.team.auth(self.kind)

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.h.client.post(f"{BASE}/{path}", headers=self.auth(), json=body)

    async def initiate(
        self, size: int, name: str = "big.bin", content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        r = await self.post(
            "initiate", {"file_name": name, "file_size": size, "content_type": content_type}
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def presign(self, upload: dict[str, Any], numbers: list[int]) -> httpx.Response:
        return await self.post(
            "presign-parts",
            {
                "upload_id": upload["upload_id"],
                "file_key": upload["file_key"],
                "part_numbers": numbers,
            },
        )

    async def put(self, url: str, data: bytes, headers: dict[str, str]) -> httpx.Response:
        client = self.h.client if url.startswith("http://testserver/") else self.http
        return await client.put(url, content=data, headers=headers)

    async def send(self, upload: dict[str, Any], data: bytes, numbers: list[int]) -> dict[int, str]:
        """PUT the given parts of ``data``; their ETags by part number."""
        r = await self.presign(upload, numbers)
        assert r.status_code == 200, r.text
        size, etags = upload["part_size"], {}
        for part in r.json()["parts"]:
            n = part["part_number"]
            put = await self.put(
                part["upload_url"], data[(n - 1) * size : n * size], part["upload_headers"]
            )
            assert put.status_code == 200, put.text
            etags[n] = put.headers["etag"]
        return etags

    async def complete(self, upload: dict[str, Any], etags: dict[int, str]) -> httpx.Response:
        return await self.post(
            "complete",
            {
                "upload_id": upload["upload_id"],
                "file_key": upload["file_key"],
                "parts": [{"part_number": n, "etag": e} for n, e in sorted(etags.items())],
            },
        )

    async def abort(self, upload: dict[str, Any]) -> httpx.Response:
        return await self.post(
            "abort", {"upload_id": upload["upload_id"], "file_key": upload["file_key"]}
        )

    async def status(self, upload_id: str) -> httpx.Response:
        return await self.h.client.get(f"{BASE}/{upload_id}", headers=self.auth())

    async def upload(self, data: bytes, name: str = "big.bin") -> str:
        """The whole happy path; the completed file_key."""
        upload = await self.initiate(len(data), name)
        etags = await self.send(upload, data, list(range(1, upload["part_count"] + 1)))
        r = await self.complete(upload, etags)
        assert r.status_code == 200, r.text
        return str(r.json()["file_key"])

    async def single(
        self, data: bytes, name: str = "a.txt", content_type: str = "text/plain"
    ) -> str:
        """The seed's single presigned PUT (with the team's sk- key); the file_key."""
        r = await self.h.client.post(
            "/api/v1/r/files/presign",
            headers=self.team.auth("integration"),
            json={"file_name": name, "file_size": len(data), "content_type": content_type},
        )
        assert r.status_code == 200, r.text
        put = await self.put(r.json()["upload_url"], data, r.json()["upload_headers"])
        assert put.status_code == 200, put.text
        return str(r.json()["file_key"])

    async def row(self, upload_id: str) -> MultipartUpload:
        async with self.h.app.state.services.db.session() as session:
            row = await session.get(MultipartUpload, upload_id)
            assert row is not None
            return row

    async def run_echo(self, file_key: str) -> httpx.Response:
        return await self.h.client.post(
            "/api/v1/r/workflows/slug/echo/run",
            headers=self.team.auth("integration"),
            json={"parameters": {"input_file": file_key}},
        )


def stored_bytes(h: Harness, key: str) -> bytes | None:
    """The object at ``key`` read straight from the store, or None."""
    storage = h.app.state.services.storage
    if storage.backend == "local":
        path = storage.path_of(key)
        return path.read_bytes() if path.exists() else None
    try:
        body = storage.client.get_object(Bucket=storage.bucket, Key=key)["Body"]
    except storage.client.exceptions.NoSuchKey:
        return None
    data: bytes = body.read()
    return data


def upload_staged(h: Harness, key: str, backend_upload_id: str) -> bool:
    """Whether the store still holds the multipart upload (its staged parts)."""
    storage = h.app.state.services.storage
    if storage.backend == "local":
        return bool((storage.root / ".multipart" / backend_upload_id).exists())
    listed = storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=key)
    return any(u["UploadId"] == backend_upload_id for u in listed.get("Uploads", []))


async def put_part_unsigned(
    h: Harness, key: str, backend_upload_id: str, number: int, data: bytes
) -> str:
    """Store a part of any length behind the API's back (root credentials / the store's own
    code): what a store that does not check the signed length would let through. Its ETag."""
    storage = h.app.state.services.storage
    if storage.backend == "local":

        async def chunks() -> Any:
            yield data

        info = await storage.receive_part(key, backend_upload_id, number, len(data), chunks())
        return str(info.etag)
    response = storage.client.upload_part(
        Bucket=storage.bucket, Key=key, Body=data, UploadId=backend_upload_id, PartNumber=number
    )
    return str(response["ETag"])
