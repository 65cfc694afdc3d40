"""What ``runyard storage setup`` applies to a store and what ``check`` verifies.

Retention on S3 is the bucket's job (lifecycle rules), and browsers can only PUT to a bucket whose
CORS allows the signed headers, so both are set here rather than left to each operator. ``check``
goes further than reading the configuration back: it uploads a probe through a presigned URL and
confirms the store really answers 412 to an overwrite and 403 to a PUT without the signed
``If-None-Match`` (moto-like stores accept both, silently breaking the no-overwrite contract).
Everything here is synchronous: it runs from the command line, not in the server. (The embedded
store has no lifecycle engine: the retention sweeper deletes its expired keys.)
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from runyard.settings import RetentionSettings, Settings
from runyard.storage.local import TMP_DIR

if TYPE_CHECKING:
    from runyard.storage.s3 import S3Storage

RULE_PREFIX = "runyard-"
CORS_ID = "runyard-uploads"
CORS_RULE: dict[str, Any] = {
    "ID": CORS_ID,
    "AllowedMethods": ["PUT", "GET", "HEAD"],
    "AllowedOrigins": ["*"],
    "AllowedHeaders": ["Content-Length", "If-None-Match", "Content-Type", "Range"],
    "ExposeHeaders": ["ETag"],
    "MaxAgeSeconds": 3600,
}


def cors_rule(origins: list[str] | None = None) -> dict[str, Any]:
    """The bucket's CORS rule for browser uploads: the origins of
    ``RUNYARD_HTTP_CORS_ALLOWED_ORIGINS``, or any origin when none are set (the URL's signature,
    not the origin, is what authorises a PUT or GET on the bucket)."""
    return {**CORS_RULE, "AllowedOrigins": list(origins) if origins else ["*"]}


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def days(seconds: int) -> int:
    """Lifecycle rules count whole days: round up, and never below one."""
    return max(1, math.ceil(seconds / 86_400))


def lifecycle_rules(retention: RetentionSettings) -> list[dict[str, Any]]:
    def expire(prefix: str, seconds: int) -> dict[str, Any]:
        return {
            "ID": f"{RULE_PREFIX}{prefix.rstrip('/')}",
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days(seconds)},
        }

    return [
        expire("inputs/", retention.inputs),
        expire("outputs/", retention.outputs),
        {
            "ID": f"{RULE_PREFIX}abort-multipart",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days(retention.multipart)},
        },
    ]


def _not_found(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code.startswith("NoSuch") or code in ("404", "NotFound")


def _current_rules(client: Any, bucket: str) -> list[dict[str, Any]]:
    try:
        return list(client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", []))
    except ClientError as exc:
        if _not_found(exc):
            return []
        raise


def _current_cors(client: Any, bucket: str) -> list[dict[str, Any]]:
    try:
        return list(client.get_bucket_cors(Bucket=bucket).get("CORSRules", []))
    except ClientError as exc:
        if _not_found(exc):
            return []
        raise


def setup_bucket(
    storage: S3Storage, retention: RetentionSettings, origins: list[str] | None = None
) -> list[str]:
    """Create the bucket if needed and apply our rules, keeping rules of other tools."""
    client, bucket, done = storage.client, storage.bucket, []
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not _not_found(exc):
            raise
        region = client.meta.region_name
        extra = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        client.create_bucket(Bucket=bucket, **extra)
        done.append(f"created bucket {bucket}")
    ours = lifecycle_rules(retention)
    current = _current_rules(client, bucket)
    kept = [r for r in current if not str(r.get("ID", "")).startswith(RULE_PREFIX)]
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": kept + ours}
    )
    done.append(
        f"lifecycle: inputs/ {days(retention.inputs)} d, outputs/ {days(retention.outputs)} d, "
        f"unfinished uploads {days(retention.multipart)} d"
    )
    kept_cors = [r for r in _current_cors(client, bucket) if r.get("ID") != CORS_ID]
    rule = cors_rule(origins)
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": kept_cors + [rule]})
    allowed = ", ".join(rule["AllowedOrigins"]) if origins else "any origin"
    done.append(f"CORS: PUT/GET/HEAD from {allowed}, ETag exposed")
    return done


def _has_rule(rules: list[dict[str, Any]], wanted: dict[str, Any]) -> bool:
    def prefix(rule: dict[str, Any]) -> str:
        return str(rule.get("Filter", {}).get("Prefix", rule.get("Prefix", "")))

    action = "Expiration" if "Expiration" in wanted else "AbortIncompleteMultipartUpload"
    return any(
        r.get("Status") == "Enabled"
        and prefix(r) == prefix(wanted)
        and r.get(action) == wanted[action]
        for r in rules
    )


def _has_cors(rules: list[dict[str, Any]], origins: list[str] | None = None) -> bool:
    def covers(rule: dict[str, Any]) -> bool:
        headers = {h.lower() for h in rule.get("AllowedHeaders", [])}
        allowed = set(rule.get("AllowedOrigins", []))
        return (
            {"PUT", "GET", "HEAD"} <= set(rule.get("AllowedMethods", []))
            and ("*" in allowed or (bool(origins) and set(origins or []) <= allowed))
            and ("*" in headers or {"content-length", "if-none-match"} <= headers)
            and "etag" in {h.lower() for h in rule.get("ExposeHeaders", [])}
        )

    return any(covers(rule) for rule in rules)


def check_bucket(
    storage: S3Storage, retention: RetentionSettings, origins: list[str] | None = None
) -> list[CheckResult]:
    """Every check, in order; stops after an unreachable bucket since nothing else can pass."""
    client, bucket = storage.client, storage.bucket
    setup = "run `runyard storage setup`"
    try:
        client.head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        return [
            CheckResult(
                "bucket reachable",
                False,
                str(exc),
                "check RUNYARD_S3_ENDPOINT, RUNYARD_S3_BUCKET and the credentials; " + setup,
            )
        ]
    results = [CheckResult("bucket reachable", True, bucket)]
    rules = _current_rules(client, bucket)
    for wanted in lifecycle_rules(retention):
        name = "lifecycle " + str(wanted["ID"]).removeprefix(RULE_PREFIX)
        results.append(CheckResult(name, _has_rule(rules, wanted), fix=setup))
    cors = _has_cors(_current_cors(client, bucket), origins)
    results.append(CheckResult("CORS for browser uploads", cors, fix=setup))
    results.extend(_probe(storage))
    return results


def _probe(storage: S3Storage) -> list[CheckResult]:
    """Exercise presigned PUTs the way clients do, through the public endpoint."""
    import httpx

    base = f"inputs/.runyard-check/{secrets.token_hex(8)}"
    body = b"runyard storage check\n"
    results: list[CheckResult] = []

    def put(key: str, drop: str | None = None) -> int | str:
        signed = storage.presign_put(key, len(body), expires_in=300)
        headers = {k: v for k, v in signed.headers.items() if k != drop}
        try:
            return httpx.put(signed.url, content=body, headers=headers, timeout=15).status_code
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"

    def expect(name: str, wanted: int, got: int | str, fix: str) -> None:
        results.append(CheckResult(name, got == wanted, f"answered {got}", fix))

    expect(
        "presigned PUT",
        200,
        put(f"{base}/probe"),
        "clients must reach the store at RUNYARD_S3_PUBLIC_ENDPOINT (or RUNYARD_S3_ENDPOINT) "
        "and the credentials must allow s3:PutObject",
    )
    expect(
        "second PUT refused (412)",
        412,
        put(f"{base}/probe"),
        "the store ignores If-None-Match: use a store with conditional writes "
        "(AWS S3, MinIO >= 2024-11, R2, Ceph RGW >= 18)",
    )
    expect(
        "PUT without If-None-Match refused (403)",
        403,
        put(f"{base}/unsigned", "If-None-Match"),
        "the store does not check signed headers: it would let clients overwrite objects",
    )
    try:
        storage.client.delete_object(Bucket=storage.bucket, Key=f"{base}/probe")
        storage.client.delete_object(Bucket=storage.bucket, Key=f"{base}/unsigned")
    except (ClientError, BotoCoreError) as exc:
        results.append(
            CheckResult(
                "probe objects deleted",
                False,
                str(exc),
                "allow s3:DeleteObject for the server's credentials",
            )
        )
    return results


def check_local(settings: Settings) -> list[CheckResult]:
    """The embedded store has no bucket to configure: check its directory and free space."""
    root = settings.local_store_root
    try:
        os.makedirs(root / TMP_DIR, exist_ok=True)
        probe = root / TMP_DIR / f"check-{secrets.token_hex(4)}"
        probe.write_bytes(b"ok")
        probe.unlink()
        results = [CheckResult("directory writable", True, str(root))]
    except OSError as exc:
        return [
            CheckResult(
                "directory writable",
                False,
                str(exc),
                f"create {root} and make it writable by the server's user, or set "
                "RUNYARD_LOCAL_STORE_ROOT",
            )
        ]
    free, floor = shutil.disk_usage(root).free, settings.local_store.free_space_floor
    results.append(
        CheckResult(
            "free space above the floor",
            free > floor,
            f"{free // 2**20} MiB free, floor {floor // 2**20} MiB",
            "free disk space or lower RUNYARD_LOCAL_STORE_FREE_SPACE_FLOOR",
        )
    )
    return results
