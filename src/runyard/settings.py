"""Settings, built once at the entry point (``runyard serve``/``dev``) and passed down.

Each subsystem has its own class and environment prefix (``RUNYARD_DB_URL``, ``RUNYARD_S3_BUCKET``,
``RUNYARD_SCHEDULER_HEARTBEAT_INTERVAL``...). No name collides with the client-side variables
``RUNYARD_URL``, ``RUNYARD_API_KEY`` and ``RUNYARD_AGENT_KEY``. Every timer is a setting so tests
can shrink it.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Accounts, invitation emails, device pairing and tunnels: modules of their own (re-exported).
from runyard.settings_access import AuthSettings as AuthSettings
from runyard.settings_access import PairingSettings as PairingSettings
from runyard.settings_access import SmtpSettings as SmtpSettings
from runyard.settings_packages import NodePackageSettings as NodePackageSettings
from runyard.settings_tunnels import TunnelSettings as TunnelSettings
from runyard.settings_webhooks import DEFAULT_RETRY_SCHEDULE as DEFAULT_RETRY_SCHEDULE
from runyard.settings_webhooks import WebhookSettings as WebhookSettings

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "placeholder"}
MIB = 1024 * 1024
_ZLIB_OVERHEAD = 8  # header, checksum and block framing of zlib's output


def estimated_entropy_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy: the smaller of its length times the
    Shannon entropy of its own characters (catches small alphabets: ``"a" * 40`` scores 0) and
    its size once compressed (catches repeats: ``"0123456789" * 4`` scores ~100). 48 random
    bytes in URL-safe base64 (``runyard admin gen-secret``) score ~340."""
    if not secret:
        return 0.0
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    compressed = (len(zlib.compress(secret.encode(), 9)) - _ZLIB_OVERHEAD) * 8
    return max(0.0, min(per_char * len(secret), float(compressed)))


_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def database_url(url: str) -> str:
    """The URL with the driver Runyard speaks through (a libpq-style ``postgresql://`` DSN
    means asyncpg); any other driver is refused here, at start, not by a failed request."""
    scheme, sep, rest = url.partition("://")
    driver = _DRIVERS.get(scheme.lower()) if sep else None
    if driver is None:
        raise ValueError(
            f"unsupported database URL scheme {scheme!r}: use postgresql+asyncpg://user@host/db "
            "(or postgresql://…) or sqlite+aiosqlite:///path.db"
        )
    return f"{driver}://{rest}"


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_DB_", extra="ignore")

    url: Annotated[str, AfterValidator(database_url)] = Field(
        default="sqlite+aiosqlite:///./runyard.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://… "
        "(postgresql://, postgres:// and sqlite:/// mean the same).",
    )
    pool_size: int = Field(default=10, description="PostgreSQL connection pool size.")
    echo: bool = Field(default=False, description="Log every SQL statement.")


class S3Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_S3_", extra="ignore")

    endpoint: str | None = Field(default=None, description="S3 endpoint the server uses.")
    public_endpoint: str | None = Field(
        default=None, description="Endpoint put in URLs handed to clients and agents."
    )
    region: str = Field(default="us-east-1", description="Signing region.")
    bucket: str = Field(default="", description="Bucket holding inputs/ and outputs/.")
    access_key_id: str | None = Field(default=None, description="Access key id.")
    secret_access_key: str | None = Field(default=None, description="Secret access key.")
    path_style: bool = Field(default=True, description="Path-style addressing (MinIO, ministack).")


class LocalStoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_LOCAL_STORE_", extra="ignore")

    root: Path | None = Field(
        default=None,
        description="Directory of the embedded store (default: RUNYARD_DATA_DIR/objects).",
    )
    free_space_floor: int = Field(
        default=512 * MIB, description="Refuse PUTs (507) that would leave less free disk."
    )
    inline_output_max: int = Field(
        default=64 * 1024,
        ge=0,
        le=64 * 1024,
        description="Agents send outputs up to this size inside their completion instead of "
        "PUTting each through a URL (fewer round trips per task); 0 turns it off.",
    )


class LimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_LIMIT_", extra="ignore")

    single_upload_max: int = Field(default=524_288_000, description="Largest presigned PUT.")
    multipart_max: int = Field(default=50 * 1024 * MIB, description="Largest multipart upload.")
    model_max: int = Field(
        default=50 * 1024 * MIB, description="Largest model file in the team's model library."
    )
    part_size: int = Field(default=100 * MIB, ge=5 * MIB, description="Multipart part size.")
    upload_url_ttl: int = Field(default=900, description="Seconds an upload URL stays valid.")
    download_url_ttl: int = Field(default=3600, description="Seconds a download URL stays valid.")
    agent_url_ttl: int = Field(default=900, description="Seconds an agent's input URL is valid.")
    queued_tasks_per_team: int = Field(
        default=10_000,
        description="Unfinished tasks a team may have before runs answer 409 "
        '(see "The queue cap").',
    )
    open_uploads_per_team: int = Field(default=100, description="Unfinished multipart uploads.")
    bytes_presigned_per_day: int = Field(
        default=1024 * 1024 * MIB, description="Bytes a team may presign per rolling day."
    )
    login_attempts_per_minute: int = Field(
        default=10, description="Failed logins per address and account per minute."
    )
    workflow_json_bytes: int = Field(
        default=5 * MIB, ge=1024, description="Largest workflow_json accepted (bytes, as JSON)."
    )
    workflow_json_depth: int = Field(
        default=32, ge=4, le=200, description="Deepest nesting of workflow_json accepted."
    )
    workflow_nodes: int = Field(default=5_000, ge=1, description="Most nodes in a ComfyUI graph.")
    workflow_parameters: int = Field(
        default=200, ge=1, description="Most parameters one workflow may declare."
    )


def _rate(value: str) -> str:
    from limits import parse

    try:
        parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate such as '10/minute': {exc}") from None
    return value


Rate = Annotated[str, AfterValidator(_rate)]


class RateLimitSettings(BaseSettings):
    """Rates are ``limits`` strings: ``N/second``, ``N/minute``, ``N/hour``, ``N per 5 minutes``."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_RATE_LIMIT_", extra="ignore")

    enabled: bool = Field(default=True, description="Answer 429 once a rate limit is exceeded.")
    storage_url: str = Field(
        default="",
        description="Where counters live: empty = login/connect counters in the database, "
        "presign/run counters in each process; redis://host:6379 = all shared in Redis; "
        "memory:// = all per process.",
    )
    login_per_address: Rate = Field(default="60/minute", description="Login attempts per address.")
    presign: Rate = Field(default="1000/second", description="Presigns per credential.")
    presign_per_address: Rate = Field(default="2000/second", description="Presigns per address.")
    run: Rate = Field(default="1000/second", description="Run submissions per credential.")
    run_per_address: Rate = Field(default="2000/second", description="Run submissions per address.")
    agent_connects: Rate = Field(default="30/minute", description="Gateway connects per agent key.")
    agent_connects_per_address: Rate = Field(
        default="120/minute", description="Gateway connects per address."
    )
    pair_start_per_address: Rate = Field(
        default="20/minute", description="Device pairings started per address."
    )
    pair_poll_per_address: Rate = Field(
        default="120/minute", description="Device pairing polls per address."
    )
    pair_confirm: Rate = Field(
        default="30/minute", description="Pairing confirms and denials per user (code guesses)."
    )
    invitation_accept_per_address: Rate = Field(
        default="20/minute", description="Invitation accepts and signups per address."
    )


class RetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_RETENTION_", extra="ignore")

    inputs: int = Field(default=86_400, description="Seconds an uploaded input is kept.")
    outputs: int = Field(default=7 * 86_400, description="Seconds a task output is kept.")
    multipart: int = Field(default=86_400, description="Seconds an unfinished upload is kept.")
    events: int = Field(default=30 * 86_400, description="Seconds task events are kept.")
    idempotency: int = Field(default=86_400, description="Seconds an Idempotency-Key is kept.")
    sweep_interval: float = Field(default=300.0, description="Seconds between sweeps.")


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_SCHEDULER_", extra="ignore")

    heartbeat_interval: float = Field(default=5.0, description="Agent heartbeat period (s).")
    heartbeat_misses: int = Field(default=3, description="Missed heartbeats before 'lost'.")
    liveness_interval: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between the batched writes of connected agents' last heartbeat "
        "(at most a quarter of heartbeat_interval × heartbeat_misses is used).",
    )
    ack_timeout: float = Field(default=10.0, description="Seconds to ack an assignment.")
    cancel_grace: float = Field(default=10.0, description="Seconds an agent has to confirm cancel.")
    reap_interval: float = Field(default=1.0, description="Seconds between timeout checks.")
    poll_interval: float = Field(default=1.0, description="Fallback dispatch poll (s).")
    restart_grace: float = Field(
        default=30.0,
        description="After a server start, seconds before silent agents and unacknowledged "
        "assignments are judged (agents reconnect with up to 10 s of backoff).",
    )
    shutdown_grace: float = Field(default=5.0, description="Server drain bound on SIGTERM (s).")


class GatewaySettings(BaseSettings):
    """What one agent connection may cost the server (docs/operating.md, "Security")."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_GATEWAY_", extra="ignore")

    frame_concurrency: int = Field(
        default=4,
        ge=1,
        description="Frames of one agent connection handled at once (each may hold a database "
        "connection); keep it below RUNYARD_DB_POOL_SIZE.",
    )
    frame_backlog: int = Field(
        default=1000,
        ge=1,
        description="Frames of one agent connection waiting to be handled before the server "
        "stops reading from it (backpressure).",
    )
    stray_frames: Rate = Field(
        default="600/minute",
        description="Frames one agent connection may send for tasks it does not hold; beyond, "
        "the connection is closed with 4005 (too_many_frames).",
    )


class EventSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_EVENTS_", extra="ignore")

    keepalive: float = Field(default=15.0, description="Seconds between SSE keep-alive comments.")
    progress_interval: float = Field(
        default=0.25, description="Min seconds between stored progress (and preview) events."
    )
    poll_interval: float = Field(
        default=0.5,
        description="Poll of the event log for open SSE streams while other server processes' "
        "changes cannot be heard (PostgreSQL, LISTEN connection down) (s).",
    )
    safety_poll: float = Field(
        default=5.0,
        gt=0,
        description="Otherwise, seconds between reads of the event log for open SSE streams "
        "that nothing woke (covers a lost notification).",
    )
    waiting_recheck: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between re-reads of a pending or waiting task's waiting_reason for "
        "its open SSE streams (also re-read on each of its status events).",
    )


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_METRICS_", extra="ignore")

    token: str | None = Field(
        default=None,
        description="Bearer token a scrape of /metrics must send; unset, /metrics answers 404.",
    )


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_HTTP_", extra="ignore")

    cors_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API and the embedded store (JSON "
        'list, e.g. ["https://app.example.com"]); empty = no CORS.',
    )
    max_headers: int = Field(default=100, ge=16, description="Most request headers accepted.")
    max_header_bytes: int = Field(
        default=64 * 1024, ge=4096, description="Largest total size of request headers (bytes)."
    )
    max_url_bytes: int = Field(default=16 * 1024, ge=1024, description="Longest URL (bytes).")
    max_query_params: int = Field(default=100, ge=8, description="Most query parameters.")
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Proxies (JSON list of addresses or networks) whose X-Forwarded-For and "
        "X-Forwarded-Proto are trusted for the client's address (per-address rate limits); "
        'empty = trust none. ["*"] trusts every peer: only behind a proxy that overwrites them.',
    )


class Settings(BaseSettings):
    """Root settings of one server process."""

    model_config = SettingsConfigDict(env_prefix="RUNYARD_", extra="ignore")

    environment: Literal["dev", "prod", "test"] = Field(
        default="prod",
        description="prod refuses a missing or placeholder secret key; dev/test do not.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Root URL clients reach this server at."
    )
    secret_key: str = Field(default="", description="Signs session tokens and embedded-store URLs.")
    previous_secret_keys: list[str] = Field(
        default_factory=list,
        description="Retired secret keys (JSON list) still accepted for session tokens "
        "and embedded-store URLs during a rotation.",
    )
    storage: Literal["local", "s3"] = Field(default="local", description="Object store backend.")
    data_dir: Path = Field(default=Path("./runyard-data"), description="Local state directory.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    local_store: LocalStoreSettings = Field(default_factory=LocalStoreSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    pairing: PairingSettings = Field(default_factory=PairingSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    tunnel: TunnelSettings = Field(default_factory=TunnelSettings)
    node_package: NodePackageSettings = Field(default_factory=NodePackageSettings)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self.public_url = self.public_url.rstrip("/")
        if self.environment == "prod" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "RUNYARD_SECRET_KEY is missing or a placeholder: set it to a random value of at "
                "least 32 characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        if self.environment == "prod" and len(self.secret_key) < 32:
            raise ValueError("RUNYARD_SECRET_KEY must be at least 32 characters long")
        if self.environment == "prod" and estimated_entropy_bits(self.secret_key) < 128:
            raise ValueError(
                "RUNYARD_SECRET_KEY looks guessable (less than 128 bits of entropy): generate one "
                "with `runyard admin gen-secret`"
            )
        if self.storage == "s3" and not self.s3.bucket:
            raise ValueError("RUNYARD_STORAGE=s3 needs RUNYARD_S3_BUCKET")
        return self

    @property
    def token_secrets(self) -> tuple[str, ...]:
        """Secrets that verify session tokens and embedded-store URLs: the current one first,
        then retired ones."""
        return (self.secret_key, *(k for k in self.previous_secret_keys if k))

    @property
    def local_store_root(self) -> Path:
        return self.local_store.root or self.data_dir / "objects"

    @property
    def is_sqlite(self) -> bool:
        return self.db.url.startswith("sqlite")
