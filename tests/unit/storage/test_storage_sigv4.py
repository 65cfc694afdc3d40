"""Our SigV4 query signer produces exactly botocore's ``S3SigV4QueryAuth`` URLs."""

from __future__ import annotations

import calendar
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from runyard.settings import S3Settings
from runyard.storage.s3 import S3Storage, SigV4QuerySigner


def botocore_url(creds: Credentials, method: str, url: str, **kwargs: object) -> tuple[str, float]:
    request = AWSRequest(method=method, url=url, **kwargs)  # type: ignore[arg-type]
    S3SigV4QueryAuth(creds, "s3", "eu-west-3", expires=900).add_auth(request)
    stamp = parse_qs(urlsplit(request.url).query)["X-Amz-Date"][0]
    return request.url, float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")))


@pytest.mark.parametrize("token", [None, "session/token+="])
def test_put_url_is_byte_identical(token: str | None) -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    path = "/bucket/inputs/t%20x/%C3%BC~.png"
    headers = {"Content-Length": "1048576", "If-None-Match": "*"}
    expected, at = botocore_url(creds, "PUT", "https://s3.example.com:9000" + path, headers=headers)

    ours = SigV4QuerySigner(creds, "eu-west-3", clock=lambda: at).presign(
        "PUT",
        "https://s3.example.com:9000",
        "s3.example.com:9000",
        path,
        expires_in=900,
        headers=headers,
    )

    assert ours == expected


def test_get_and_part_urls_are_byte_identical() -> None:
    creds = Credentials("AK", "SK")
    get_params = {
        "response-content-disposition": "attachment; filename*=UTF-8''a%20b.png",
        "response-content-type": "image/png",
    }
    part_params = {"partNumber": "3", "uploadId": "abc/def=="}
    expected_get, at = botocore_url(creds, "GET", "http://h/b/k", params=get_params)
    expected_part, at2 = botocore_url(
        creds, "PUT", "http://h/b/k", params=part_params, headers={"Content-Length": "5"}
    )

    get = SigV4QuerySigner(creds, "eu-west-3", clock=lambda: at).presign(
        "GET", "http://h", "h", "/b/k", expires_in=900, params=get_params
    )
    part = SigV4QuerySigner(creds, "eu-west-3", clock=lambda: at2).presign(
        "PUT",
        "http://h",
        "h",
        "/b/k",
        expires_in=900,
        params=part_params,
        headers={"Content-Length": "5"},
    )

    assert (get, part) == (expected_get, expected_part)


def test_urls_use_the_public_endpoint_and_sign_no_content_type() -> None:
    settings = S3Settings(
        endpoint="http://minio:9000",
        public_endpoint="https://files.example.com",
        bucket="runyard",
        access_key_id="a",
        secret_access_key="b",
    )
    storage = S3Storage(settings, clock=lambda: 1_800_000_000)

    put = storage.presign_put("inputs/t/u/a b.png", 7, expires_in=60)
    virtual = S3Storage(settings.model_copy(update={"path_style": False})).presign_put(
        "k", 1, expires_in=60
    )

    assert put.url.startswith("https://files.example.com/runyard/inputs/t/u/a%20b.png?")
    assert "X-Amz-SignedHeaders=content-length%3Bhost%3Bif-none-match&" in put.url
    assert put.headers == {"Content-Length": "7", "If-None-Match": "*"}
    assert virtual.url.startswith("https://runyard.files.example.com/k?")
