"""The dashboard's CSP names the object store's origin wherever signed URLs point."""

from __future__ import annotations

from runyard.dashboard.csp import AWS_S3, dashboard_csp, store_origins
from runyard.settings import S3Settings, Settings


def _settings(**kw: object) -> Settings:
    return Settings(environment="test", secret_key="k" * 40, **kw)  # type: ignore[arg-type]


def test_embedded_store_is_the_public_url() -> None:
    s = _settings(public_url="https://runyard.example.com/")
    assert store_origins(s) == ["https://runyard.example.com"]
    csp = dashboard_csp(s).decode()
    assert "connect-src 'self' https://runyard.example.com;" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_s3_endpoints() -> None:
    aws = _settings(storage="s3", s3=S3Settings(bucket="b"))
    assert AWS_S3 in store_origins(aws)
    minio = _settings(
        storage="s3",
        s3=S3Settings(bucket="b", endpoint="http://minio:9000", public_endpoint="https://s3.x.io"),
    )
    assert store_origins(minio)[1:] == ["https://s3.x.io"]
    hosted = _settings(
        storage="s3", s3=S3Settings(bucket="b", endpoint="https://r2.example", path_style=False)
    )
    assert store_origins(hosted)[1:] == ["https://r2.example", "https://*.r2.example"]
