"""What sync and async clients share: a request is described once as a ``Call`` (method, path,
body, how to parse the answer), and ``ClientCore`` turns it into ``httpx`` arguments, decides
retries and maps error answers to exceptions. The executors in ``_transport`` only do I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from runyard_client._config import resolve
from runyard_client._errors import TransportError, UploadError, error_from_response

T = TypeVar("T")

API = "/api/v1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=30.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=30.0, read=300.0, write=120.0, pool=30.0)
SINGLE_UPLOAD_LIMIT = 524_288_000
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_RATE_LIMIT_WAIT = 30.0  # seconds; a longer Retry-After is surfaced as RateLimited
CHUNK = 1 << 20


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("runyard")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "0"


def user_agent() -> str:
    return f"runyard-client/{_version()} httpx/{httpx.__version__}"


@dataclass
class FileSlice:
    """A byte range of a local file, streamed as a request body (never read whole into memory).
    ``on_bytes`` is told every chunk sent, and told the negative count when a retry restarts."""

    path: Path
    offset: int
    length: int
    on_bytes: Callable[[int], None] | None = None
    sent: int = 0

    def _restart(self) -> None:
        if self.sent and self.on_bytes is not None:
            self.on_bytes(-self.sent)
        self.sent = 0

    def _count(self, chunk: bytes, remaining: int) -> None:
        if not chunk and remaining:
            raise UploadError(f"{self.path} changed while being uploaded (it became shorter)")
        self.sent += len(chunk)
        if self.on_bytes is not None:
            self.on_bytes(len(chunk))

    def iter_sync(self) -> Iterator[bytes]:
        self._restart()
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            remaining = self.length
            while remaining:
                chunk = fh.read(min(CHUNK, remaining))
                self._count(chunk, remaining)
                remaining -= len(chunk)
                yield chunk

    async def iter_async(self) -> AsyncIterator[bytes]:
        self._restart()
        fh = await asyncio.to_thread(self.path.open, "rb")
        try:
            await asyncio.to_thread(fh.seek, self.offset)
            remaining = self.length
            while remaining:
                chunk = await asyncio.to_thread(fh.read, min(CHUNK, remaining))
                self._count(chunk, remaining)
                remaining -= len(chunk)
                yield chunk
        finally:
            fh.close()


def parse_none(response: httpx.Response) -> None:
    return None


def parse_json(response: httpx.Response) -> Any:
    return response.json()


@dataclass
class Call(Generic[T]):
    """One HTTP exchange, described without doing it.

    ``url`` is a path under the server or an absolute URL (presigned object-store URLs, which
    never get the ``Authorization`` header: ``authenticated=False``). ``retry`` overrides the
    method-based rule (GET/PUT/DELETE are retried; a POST only with an ``Idempotency-Key``).
    ``on_error`` maps a failed answer to an exception when the contract's mapping does not apply.
    """

    method: str
    url: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    body: FileSlice | None = None
    authenticated: bool = True
    retry: bool | None = None
    timeout: httpx.Timeout | None = None
    on_error: Callable[[httpx.Response], Exception] | None = None


def api(path: str) -> str:
    return API + path


def store_error(response: httpx.Response) -> UploadError:
    """A refused PUT to a presigned URL: the embedded store answers JSON, S3 answers XML."""
    code: str | None = None
    message = response.text[:300]
    try:
        body = response.json()
        if isinstance(body, dict):
            code = body.get("error_code")
            message = str(body.get("error_message") or message)
    except ValueError:
        if "<Code>" in response.text:
            code = response.text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    hint = {
        403: "the URL expired or the signed headers were not sent",
        412: "an object already exists at this key (uploads never overwrite)",
    }.get(response.status_code, "")
    text = f"the object store refused the upload ({response.status_code}"
    text += f" {code})" if code else ")"
    text += f": {hint}" if hint else f": {message}"
    return UploadError(text, status_code=response.status_code, error_code=code)


class ClientCore:
    """Settings of one client plus the rules every request follows."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        team_id: str | None,
        timeout: httpx.Timeout,
        upload_timeout: httpx.Timeout,
        max_retries: int,
        retry_backoff: float,
        single_upload_limit: int,
        part_concurrency: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.team_id = team_id
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.single_upload_limit = single_upload_limit
        self.part_concurrency = max(1, part_concurrency)

    def request_args(self, call: Call[Any]) -> dict[str, Any]:
        headers = dict(call.headers)
        if call.authenticated:
            if self.api_key and "Authorization" not in headers:
                headers["Authorization"] = f"Bearer {self.api_key}"
            if self.team_id and "X-Team-ID" not in headers:
                headers["X-Team-ID"] = self.team_id
        args: dict[str, Any] = {
            "method": call.method,
            "url": call.url,
            "headers": headers,
            "timeout": call.timeout or self.timeout,
        }
        if call.params:
            args["params"] = {k: v for k, v in call.params.items() if v is not None}
        if call.json is not None:
            args["json"] = call.json
        return args

    def retryable(self, call: Call[Any]) -> bool:
        if call.retry is not None:
            return call.retry
        return call.method in IDEMPOTENT_METHODS or "Idempotency-Key" in call.headers

    def retry_delay(
        self,
        call: Call[Any],
        attempt: int,
        *,
        exc: Exception | None = None,
        response: httpx.Response | None = None,
    ) -> float | None:
        """Seconds to wait before another attempt, or ``None`` to stop. A refused connection is
        always safe to retry (nothing was sent); anything else only for idempotent calls."""
        if attempt >= self.max_retries:
            return None
        delay = self.retry_backoff * (2**attempt)
        if exc is not None:
            never_sent = isinstance(
                exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
            )
            return delay if never_sent or self.retryable(call) else None
        if response is not None and response.status_code in RETRY_STATUSES:
            return delay if self.retryable(call) else None
        if response is not None and response.status_code == 429:
            # Refused before anything was done: always safe to retry, after the server's hint.
            try:
                hint = float(str(response.headers.get("Retry-After", "")))
            except ValueError:
                hint = delay
            return float(min(max(hint, delay), MAX_RATE_LIMIT_WAIT))
        return None

    def finish(self, call: Call[T], response: httpx.Response) -> T:
        if response.is_success:
            return call.parse(response)
        if call.on_error is not None:
            raise call.on_error(response)
        raise error_from_response(response)

    def transport_error(self, call: Call[Any], exc: Exception) -> Exception:
        where = call.url if call.url.startswith("http") else self.base_url + call.url
        where = where.split("?", 1)[0]  # a presigned URL's query is a secret
        kind = type(exc).__name__
        return TransportError(f"{call.method} {where} failed: {kind}: {exc or 'no detail'}")


def make_core(
    server_url: str | None,
    api_key: str | None,
    team_id: str | None,
    *,
    timeout: float | httpx.Timeout,
    upload_timeout: float | httpx.Timeout,
    max_retries: int,
    retry_backoff: float,
    single_upload_limit: int,
    part_concurrency: int,
    use_profile: bool,
) -> ClientCore:
    resolved = resolve(server_url, api_key, team_id, use_profile=use_profile)
    return ClientCore(
        base_url=resolved.server_url,
        api_key=resolved.api_key,
        team_id=resolved.team_id,
        timeout=_timeout(timeout),
        upload_timeout=_timeout(upload_timeout),
        max_retries=max_retries,
        retry_backoff=retry_backoff,
        single_upload_limit=single_upload_limit,
        part_concurrency=part_concurrency,
    )


def _timeout(value: float | httpx.Timeout) -> httpx.Timeout:
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)
