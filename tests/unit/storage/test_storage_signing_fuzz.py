"""Hypothesis fuzz of the embedded store's signature parser: whatever a client puts in the query
string and the headers, verification either passes or raises ``SignatureError`` (a 403), and a
signature verifies only for exactly what was signed."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from runyard.storage.signing import EXPIRES, SIGNATURE, SIGNED_HEADERS, SignatureError, UrlSigner

NOW = 1_800_000_000.0
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SIGNER = UrlSigner("s" * 40, clock=lambda: NOW)

texts = st.text(max_size=40)
latin1 = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n\x00"), max_size=40)
header_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
query_names = st.sampled_from([SIGNATURE, EXPIRES, SIGNED_HEADERS, "uploadId", "partNumber"])


def as_request_headers(pairs: dict[str, str]) -> Headers:
    """Headers as a server receives them: latin-1 bytes, looked up case-insensitively."""
    return Headers(raw=[(k.lower().encode(), v.encode("latin-1")) for k, v in pairs.items()])


@FUZZ
@given(
    query=st.dictionaries(st.one_of(query_names, texts), texts, max_size=6),
    headers=st.dictionaries(header_names, latin1, max_size=5),
    method=st.sampled_from(["GET", "PUT", "HEAD"]),
    key=texts,
)
def test_any_query_and_headers_verify_or_raise_signature_error(
    query: dict[str, str], headers: dict[str, str], method: str, key: str
) -> None:
    try:
        SIGNER.verify(method, key, query, as_request_headers(headers))
    except SignatureError as exc:
        assert exc.code in {
            "signature_missing",
            "signed_header_missing",
            "signature_mismatch",
            "url_expired",
        }


@FUZZ
@given(
    key=st.text(min_size=1, max_size=60),
    params=st.dictionaries(st.sampled_from(["uploadId", "partNumber", "x"]), texts, max_size=3),
    headers=st.dictionaries(header_names, latin1.map(str.strip), max_size=4),
    tamper=st.sampled_from([EXPIRES, SIGNED_HEADERS, "uploadId", "key", "method", "header"]),
    value=texts,
)
def test_a_signature_holds_only_for_what_was_signed(
    key: str,
    params: dict[str, str],
    headers: dict[str, str],
    tamper: str,
    value: str,
) -> None:
    from urllib.parse import parse_qsl

    signed = SIGNER.sign("PUT", key, expires_in=60, params=params, headers=headers)
    query = dict(parse_qsl(signed, keep_blank_values=True))
    sent = as_request_headers(headers)
    SIGNER.verify("PUT", key, query, sent)  # the untouched request passes

    method, changed_key, changed = "PUT", key, dict(query)
    changed_headers = dict(headers)
    if tamper == "key":
        changed_key = key + (value or "x")
    elif tamper == "method":
        method = "GET"
    elif tamper == "header":
        if not headers:
            return
        name = sorted(headers)[0]
        if headers[name] == value.strip() or not all(ord(c) < 256 for c in value):
            return
        changed_headers[name] = value
    else:
        if changed.get(tamper) == value:
            return
        changed[tamper] = value
    try:
        SIGNER.verify(method, changed_key, changed, as_request_headers(changed_headers))
    except SignatureError:
        return
    raise AssertionError(f"tampered {tamper} still verified")
