"""What only the embedded store has to get right: disk, paths, download headers, its JSON errors."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from runyard.storage.local import LocalStorage

Served = tuple[FastAPI, str]


def test_put_answers_507_when_the_disk_would_fall_under_the_floor(
    local_storage: LocalStorage,
) -> None:
    local_storage.free_space_floor = 1 << 62
    signed = local_storage.presign_put("inputs/t/u/a.bin", 10, expires_in=60)

    response = httpx.put(signed.url, content=b"0123456789", headers=signed.headers)

    assert response.status_code == 507
    assert response.json()["error_code"] == "insufficient_storage"
    assert set(response.json()) == {"error_message", "error_code", "request_id"}
    assert not list((local_storage.root / ".tmp").iterdir())


@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024], ids=["small", "streamed"])
def test_refused_puts_leave_no_temporary_file(local_storage: LocalStorage, size: int) -> None:
    body = b"x" * size
    first = local_storage.presign_put("inputs/t/u/once.bin", size, expires_in=60)
    again = local_storage.presign_put("inputs/t/u/once.bin", size, expires_in=60)

    assert httpx.put(first.url, content=body, headers=first.headers).status_code == 200
    assert httpx.put(again.url, content=body, headers=again.headers).status_code == 412

    assert local_storage.path_of("inputs/t/u/once.bin").read_bytes() == body
    assert not list((local_storage.root / ".tmp").iterdir())


def test_downloads_are_sandboxed_attachments(local_storage: LocalStorage) -> None:
    signed = local_storage.presign_put("outputs/t/k/1/0-page.html", 21, expires_in=60)
    body = b"<script>alert(1)</script>"[:21]
    assert httpx.put(signed.url, content=body, headers=signed.headers).status_code == 200
    url = local_storage.presign_get(
        "outputs/t/k/1/0-page.html", expires_in=60, file_name="page.html", content_type="text/html"
    )

    got = httpx.get(url)
    head = httpx.head(url)

    assert got.status_code == 200 and got.content == body
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''page.html"
    # Not served as itself from the server's origin (issue 32): no script or page runs there.
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["accept-ranges"] == "bytes"
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "21"


def test_error_bodies_follow_the_contract(local_storage: LocalStorage) -> None:
    signed = local_storage.presign_put("inputs/t/u/e.bin", 3, expires_in=60)
    no_inm = httpx.put(signed.url, content=b"abc")
    wrong_length = httpx.put(signed.url, content=b"abcd", headers={"If-None-Match": "*"})
    first = httpx.put(signed.url, content=b"abc", headers=signed.headers)
    second = httpx.put(signed.url, content=b"abc", headers=signed.headers)
    get_url = local_storage.presign_get(
        "inputs/t/u/e.bin", expires_in=60, file_name="e", content_type="a/b"
    )
    missing = local_storage.presign_get(
        "inputs/t/u/none", expires_in=60, file_name="e", content_type="a/b"
    )
    unsigned = httpx.get(get_url.split("?")[0])
    repeated = httpx.get(get_url + "&X-Runyard-Expires=1")
    put_url_for_get = httpx.request("GET", signed.url, content=b"abc", headers=signed.headers)
    no_object = httpx.get(missing)
    beyond = httpx.get(get_url, headers={"Range": "bytes=3-"})

    codes = [
        r.json()["error_code"]
        for r in (
            no_inm,
            wrong_length,
            second,
            unsigned,
            repeated,
            put_url_for_get,
            no_object,
            beyond,
        )
    ]
    assert first.status_code == 200
    assert codes == [
        "signed_header_missing",
        "signature_mismatch",
        "object_exists",
        "signature_missing",
        "signature_mismatch",
        "signature_mismatch",
        "object_not_found",
        "range_not_satisfiable",
    ]
    assert [no_inm.status_code, second.status_code, no_object.status_code, beyond.status_code] == [
        403,
        412,
        404,
        416,
    ]
    assert beyond.headers["content-range"] == "bytes */3"


@pytest.mark.parametrize(
    "raw_path",
    [
        "/storage/inputs/%2e%2e/%2e%2e/etc/passwd",
        "/storage/.tmp/x",
        "/storage/inputs//x",
        "/storage/inputs/a%5c..%5cb",
        "/storage/.multipart/x/key",
    ],
)
def test_keys_that_could_escape_the_root_are_refused(
    local_storage: LocalStorage, raw_path: str
) -> None:
    base = local_storage.public_url
    with httpx.Client() as client:
        request = client.build_request("PUT", base, content=b"x", headers={"If-None-Match": "*"})
        query = b"?X-Runyard-Expires=9&X-Runyard-Signature=x"
        request.url = request.url.copy_with(raw_path=raw_path.encode() + query)
        response = client.send(request)

    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_key"
    for key in ("../x", "/etc/passwd", "a/../../b", ".tmp/x", "a\\b", "a/\x00"):
        with pytest.raises(ValueError):
            local_storage.presign_put(key, 1, expires_in=60)


def test_a_url_for_one_key_does_not_open_another(local_storage: LocalStorage) -> None:
    signed = local_storage.presign_put("inputs/t/u/a", 1, expires_in=60)

    other = httpx.put(signed.url.replace("/u/a?", "/u/b?"), content=b"x", headers=signed.headers)

    assert other.status_code == 403


def test_the_routes_answer_404_when_the_server_uses_s3(local_app: Served) -> None:
    app, url = local_app
    app.state.services.storage = object()

    response = httpx.get(f"{url}/storage/inputs/a?X-Runyard-Expires=1")

    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


def test_routes_are_documented(local_app: Served) -> None:
    app, _ = local_app
    paths = app.openapi()["paths"]["/storage/{key}"]

    assert set(paths) == {"put", "get", "head"}
    assert {"200", "400", "403", "404", "412", "507"} <= set(paths["put"]["responses"])
    assert {"200", "206", "403", "404", "416"} <= set(paths["get"]["responses"])
    assert paths["put"]["tags"] == ["storage"]


async def test_deleting_prunes_empty_folders(local_storage: LocalStorage) -> None:
    signed = local_storage.presign_put("inputs/t/u/a", 1, expires_in=60)
    assert httpx.put(signed.url, content=b"x", headers=signed.headers).status_code == 200

    await local_storage.delete("inputs/t/u/a")

    assert sorted(p.name for p in local_storage.root.iterdir()) == [".tmp"]
