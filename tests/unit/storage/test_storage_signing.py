"""The embedded store's URL signer: deterministic, bound to every signed part, expiring."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from runyard.storage.signing import EXPIRES, SIGNATURE, SIGNED_HEADERS, SignatureError, UrlSigner

NOW = 1_800_000_000.0
HEADERS = {"Content-Length": "42", "If-None-Match": "*"}


def signer(now: float = NOW, secret: str = "s" * 40) -> UrlSigner:
    return UrlSigner(secret, clock=lambda: now)


def query_of(signed: str) -> dict[str, str]:
    return dict(parse_qsl(signed, keep_blank_values=True))


def test_signing_is_deterministic_and_depends_on_the_secret() -> None:
    one = signer().sign("PUT", "inputs/a", expires_in=60, headers=HEADERS)

    assert one == signer().sign("PUT", "inputs/a", expires_in=60, headers=HEADERS)
    assert one != signer(secret="t" * 40).sign("PUT", "inputs/a", expires_in=60, headers=HEADERS)
    query = query_of(one)
    assert query[EXPIRES] == str(int(NOW) + 60)
    assert query[SIGNED_HEADERS] == "content-length;if-none-match"
    assert "42" not in one  # header values travel as headers, not in the URL


def test_a_matching_request_verifies() -> None:
    query = query_of(signer().sign("PUT", "inputs/a", expires_in=60, headers=HEADERS))

    sent = {"content-length": "42", "if-none-match": "*"}
    signer(NOW + 60).verify("PUT", "inputs/a", query, sent)


def test_expiry_is_checked_after_the_signature() -> None:
    query = query_of(signer().sign("GET", "k", expires_in=60))

    with pytest.raises(SignatureError) as expired:
        signer(NOW + 61).verify("GET", "k", query, {})
    query[EXPIRES] = str(int(NOW) + 10_000)
    with pytest.raises(SignatureError) as extended:
        signer(NOW + 61).verify("GET", "k", query, {})

    assert expired.value.code == "url_expired"
    assert extended.value.code == "signature_mismatch"


@pytest.mark.parametrize(
    ("method", "key", "change", "headers", "code"),
    [
        ("GET", "inputs/a", {}, HEADERS, "signature_mismatch"),
        ("PUT", "inputs/b", {}, HEADERS, "signature_mismatch"),
        ("PUT", "inputs/a", {"uploadId": "x"}, HEADERS, "signature_mismatch"),
        ("PUT", "inputs/a", {SIGNED_HEADERS: "content-length"}, HEADERS, "signature_mismatch"),
        ("PUT", "inputs/a", {}, {**HEADERS, "Content-Length": "43"}, "signature_mismatch"),
        ("PUT", "inputs/a", {}, {**HEADERS, "If-None-Match": "abc"}, "signature_mismatch"),
        ("PUT", "inputs/a", {}, {"Content-Length": "42"}, "signed_header_missing"),
        ("PUT", "inputs/a", {SIGNATURE: ""}, HEADERS, "signature_missing"),
    ],
)
def test_any_change_is_refused(
    method: str, key: str, change: dict[str, str], headers: dict[str, str], code: str
) -> None:
    query = query_of(signer().sign("PUT", "inputs/a", expires_in=60, headers=HEADERS))
    query.update(change)
    lowered = {k.lower(): v for k, v in headers.items()}

    with pytest.raises(SignatureError) as refused:
        signer().verify(method, key, query, lowered)

    assert refused.value.code == code


def test_signed_query_parameters_cannot_be_altered() -> None:
    params = {"response-content-disposition": "attachment", "response-content-type": "text/plain"}
    query = query_of(signer().sign("GET", "k", expires_in=60, params=params))
    query["response-content-type"] = "text/html"

    with pytest.raises(SignatureError):
        signer().verify("GET", "k", query, {})


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        UrlSigner("")


def test_urls_signed_before_a_rotation_verify_with_the_retired_key() -> None:
    old, new = "o" * 40, "n" * 40
    query = query_of(signer(secret=old).sign("PUT", "inputs/a", expires_in=60, headers=HEADERS))
    sent = {"content-length": "42", "if-none-match": "*"}
    rotated = UrlSigner(new, previous=(old,), clock=lambda: NOW)

    rotated.verify("PUT", "inputs/a", query, sent)
    # new URLs are signed with the new key only
    fresh = query_of(rotated.sign("PUT", "inputs/a", expires_in=60, headers=HEADERS))
    with pytest.raises(SignatureError) as refused:
        signer(secret=old).verify("PUT", "inputs/a", fresh, sent)
    assert refused.value.code == "signature_mismatch"
    # once the old key is dropped, its URLs are refused
    with pytest.raises(SignatureError):
        UrlSigner(new, clock=lambda: NOW).verify("PUT", "inputs/a", query, sent)
    # a retired key does not make tampering pass, nor lengthen an expired URL
    with pytest.raises(SignatureError):
        rotated.verify("PUT", "inputs/b", query, sent)
    with pytest.raises(SignatureError) as late:
        UrlSigner(new, previous=(old,), clock=lambda: NOW + 61).verify(
            "PUT", "inputs/a", query, sent
        )
    assert late.value.code == "url_expired"


def test_the_server_store_accepts_urls_of_the_key_it_rotated_from(tmp_path: Path) -> None:
    from runyard.settings import Settings
    from runyard.storage import build_storage
    from runyard.storage.local import LocalStorage

    old, new = "o" * 40, "n" * 40
    before = build_storage(Settings(environment="test", secret_key=old, data_dir=tmp_path))
    after = build_storage(
        Settings(environment="test", secret_key=new, previous_secret_keys=[old], data_dir=tmp_path)
    )
    assert isinstance(before, LocalStorage) and isinstance(after, LocalStorage)
    url = before.presign_put("inputs/t/u/a.bin", 42, expires_in=60).url
    query = query_of(url.split("?", 1)[1])
    sent = {"content-length": "42", "if-none-match": "*"}
    after.signer.verify("PUT", "inputs/t/u/a.bin", query, sent)
