"""P1's baseline: ``runyard serve`` exactly, but the store's signer returns a fixed URL.

Same app, same middleware, same ``sk-`` authentication, same quota check and ``StoredFile`` row
and commit: the only difference from the real server is the signature, so the ratio of the two
is what signing costs the route. Run: ``python -m bench.fixed_url_server --port N``.
"""

from __future__ import annotations

import argparse
import asyncio

from runyard.app import create_app
from runyard.cli.serve import build_server
from runyard.logs import configure_logging
from runyard.settings import Settings
from runyard.storage import build_storage
from runyard.storage.base import PresignedRequest

FIXED = "http://127.0.0.1:9/bench/fixed-url"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    settings = Settings()
    configure_logging(settings.log_level)
    storage = build_storage(settings)

    def fixed(key: str, content_length: int, *, expires_in: int) -> PresignedRequest:
        headers = {"Content-Length": str(content_length), "If-None-Match": "*"}
        return PresignedRequest(url=FIXED, headers=headers)

    storage.presign_put = fixed  # type: ignore[method-assign]
    app = create_app(settings, storage=storage)
    server = build_server(app, "127.0.0.1", port, settings.scheduler.shutdown_grace)
    asyncio.run(server.serve())  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
